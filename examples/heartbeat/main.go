// Command heartbeat shows the two ways of closing dead clients: the built-in
// keep-alive on /heartbeat/keepalive (WebSocket pings, answered by every
// browser by itself) and the guide's manual heartbeat on /heartbeat/manual
// (the client sends "ping", the server answers "pong"). A test page is
// served at /.
//
//	go run ./examples/heartbeat --ping-interval 10s --pong-timeout 5s
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
	"time"

	"github.com/nowebsocket/nows/examples/heartbeat/blueprints"
	"github.com/nowebsocket/nows/framework"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "heartbeat:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("heartbeat", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	pingInterval := fset.Duration("ping-interval", 30*time.Second, "ping connections quiet for this long (0: no keep-alive)")
	pongTimeout := fset.Duration("pong-timeout", 10*time.Second, "close with 1001 when a pong is this late")
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
		Addr:         *addr,
		PingInterval: *pingInterval, // the built-in keep-alive
		PongTimeout:  *pongTimeout,
		Fallback:     http.FileServerFS(page),
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
