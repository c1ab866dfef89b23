// Command chat is a chat server with rooms: /chat/room/{room_id:str}, a
// nickname from ?name=, join and leave notices, and a browser page at /.
// One node uses the in-process hub; several share a broker:
//
//	go run ./examples/chat --addr 127.0.0.1:8765
//	go run ./examples/chat --addr 127.0.0.1:8001 --broker nats://127.0.0.1:4222
//	go run ./examples/chat --addr 127.0.0.1:8002 --broker redis://127.0.0.1:6379
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
	natsbroker "github.com/nowebsocket/nows/framework/broker/nats"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redis"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("chat", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	brokerURL := fset.String("broker", os.Getenv("NOWS_BROKER"), "nats://HOST:PORT or redis://HOST:PORT to share rooms between nodes (env NOWS_BROKER); none: this process alone")
	debug := fset.Bool("debug", false, "log every connection")
	if err := fset.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	framework.SetupLogging(level)

	broker, closeBroker, err := newBroker(*brokerURL)
	if err != nil {
		return err
	}
	defer closeBroker.Close()
	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Addr:     *addr,
		Fallback: http.FileServerFS(page),
		Hub:      framework.HubOptions{Broker: broker},
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

// newBroker connects to the broker named by url: "" for none (this process
// alone), nats://... or redis://....
func newBroker(url string) (framework.Broker, io.Closer, error) {
	switch {
	case url == "":
		return nil, nopCloser{}, nil
	case strings.HasPrefix(url, "nats://"):
		b, err := natsbroker.Connect(url, natsbroker.Options{Prefix: "chat."})
		return b, b, err
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		b, err := redisbroker.Connect(url, redisbroker.Options{Prefix: "chat:"})
		return b, b, err
	}
	return nil, nil, fmt.Errorf("--broker %q: want nats://HOST:PORT or redis://HOST:PORT", url)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
