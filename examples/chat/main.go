// Command chat is a chat server with rooms: /chat/room/{room_id:str}, a
// nickname from ?name=, join and leave notices, and a browser page at /
// that talks to it through nows.js (plain WebSocket clients work too).
// Alone it keeps rooms in-process; nodes share them through --broker (or
// NOWS_BROKER), NATS or Redis:
//
//	go run ./examples/chat --addr 127.0.0.1:8001 --broker nats://127.0.0.1:4222
//	go run ./examples/chat --addr 127.0.0.1:8002 --broker redis://127.0.0.1:6379
//
// The rooms keep their last 1,000 messages of the last hour (--history,
// or NOWS_HISTORY: memory when alone; redis://HOST:PORT or, with
// JetStream, nats://HOST:PORT to share them between nodes; off), so that
// a page back from a dropped connection, or reloaded, gets what it
// missed:
//
//	go run ./examples/chat --broker redis://127.0.0.1:6379 --history redis://127.0.0.1:6379
//	go run ./examples/chat --broker nats://127.0.0.1:4222 --history nats://127.0.0.1:4222
//
// Its metrics and dashboard: http://127.0.0.1:8766/ (--admin-addr).
package main

import (
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
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
	opts.Fallback = http.FileServerFS(page) // the chat page, at /
	opts.BindFlags(flag.CommandLine)
	adm := admin.New(&opts) // /metrics and the dashboard on --admin-addr (127.0.0.1:8766)
	adm.BindFlags(flag.CommandLine)
	deps := &blueprints.Deps{Logger: logger}
	deps.BindFlags(flag.CommandLine)
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	flag.Parse()
	if err := serve(opts, adm, deps); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}
