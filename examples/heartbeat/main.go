// Command heartbeat closes dead clients two ways: the built-in keep-alive on
// /heartbeat/keepalive (WebSocket pings, which browsers answer by themselves)
// and the guide's manual heartbeat on /heartbeat/manual (the client sends
// "ping", gets "pong"). A test page is served at /.
//
//	go run ./examples/heartbeat --ping-interval 10s --pong-timeout 5s --heartbeat-window 20s
//
// Its metrics and dashboard: http://127.0.0.1:8766/ (--admin-addr).
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/nowebsocket/nows/examples/heartbeat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
)

//go:embed static
var static embed.FS

func main() {
	var level slog.Level // set by --log-level, read at each log
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &level}))
	page, _ := fs.Sub(static, "static") // never fails: "static" is a valid path
	var opts framework.Options
	opts.Logger = logger
	opts.Fallback = http.FileServerFS(page) // the test page, at /
	opts.PingInterval = 30 * time.Second    // the built-in keep-alive, on by default here
	opts.PongTimeout = 10 * time.Second
	opts.BindFlags(flag.CommandLine) // --ping-interval, --pong-timeout and every other limit
	adm := admin.New(&opts)          // /metrics and the dashboard on --admin-addr (127.0.0.1:8766)
	adm.BindFlags(flag.CommandLine)
	deps := &blueprints.Deps{Logger: logger}
	deps.BindFlags(flag.CommandLine)
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	flag.Parse()
	if err := adm.Run(context.Background(), framework.NewServer(opts), blueprints.All(deps)...); err != nil {
		fmt.Fprintln(os.Stderr, "heartbeat:", err)
		os.Exit(1)
	}
}
