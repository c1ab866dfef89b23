// Command auth accepts only clients that present a token, checked in the
// handshake (401 otherwise), and keeps per-user state on the handler. The
// demo tokens are alice-token and bob-token; set your own with --tokens or
// NOWS_TOKENS ("token=user,token=user"). A test page is served at /.
//
//	go run ./examples/auth --tokens "s3cret=alice,t0ken=bob"
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/nowebsocket/nows/examples/auth/blueprints"
	"github.com/nowebsocket/nows/framework"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("auth", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	tokens := fset.String("tokens", os.Getenv("NOWS_TOKENS"), `accepted tokens, "token=user,token=user" (env NOWS_TOKENS; default: the demo tokens)`)
	if err := fset.Parse(args); err != nil {
		return err
	}
	framework.SetupLogging(slog.LevelInfo)

	accepted := blueprints.DemoTokens()
	if *tokens != "" {
		t, err := blueprints.ParseTokens(*tokens)
		if err != nil {
			return err
		}
		accepted = t
	} else {
		slog.Warn("using the demo tokens alice-token and bob-token: set --tokens for real use")
	}

	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Addr:     *addr,
		Fallback: http.FileServerFS(page),
	})
	if err := srv.Register(blueprints.Auth(accepted)); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.ListenAndServe(ctx); err != nil && !errors.Is(err, framework.ErrServerClosed) {
		return err
	}
	slog.Info("server stopped")
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
