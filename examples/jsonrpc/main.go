// Command jsonrpc serves JSON-RPC 2.0 over WebSocket on /rpc: typed
// methods (add, upper, counter.add, counter.get), answers matched to calls
// by id, notifications, batches and the standard errors. A test page with
// a small promise-based client is served at /.
//
//	go run ./examples/jsonrpc
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

	"github.com/nowebsocket/nows/examples/jsonrpc/blueprints"
	"github.com/nowebsocket/nows/framework"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jsonrpc:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("jsonrpc", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	framework.SetupLogging(slog.LevelInfo)

	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Addr:     *addr,
		Fallback: http.FileServerFS(page),
	})
	if err := srv.Register(blueprints.All()...); err != nil {
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
