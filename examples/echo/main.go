// Command echo is NoWebsocket's quick start in Go: an echo server with two
// routes, /echo and /echo/{message:str}, and a browser test page at /.
//
//	go run ./examples/echo --addr 127.0.0.1:8765
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

	"github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("echo", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	maxMsg := fset.Int64("max-message-bytes", framework.DefaultMaxMessageBytes, "largest message accepted, in bytes")
	readTimeout := fset.Duration("read-timeout", framework.DefaultReadTimeout, "close connections idle this long")
	debug := fset.Bool("debug", false, "log every connection")
	if err := fset.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	framework.SetupLogging(level)

	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Addr:            *addr,
		MaxMessageBytes: *maxMsg,
		ReadTimeout:     *readTimeout,
		Fallback:        http.FileServerFS(page),
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
