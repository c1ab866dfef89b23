// Command jsonrpc serves typed requests over WebSocket on /rpc, what
// JSON-RPC gives, on framework/events and its protocol nows.v1: requests
// with typed payloads and replies (add, divide, upper, counter.add,
// counter.get), an event without reply (counter.reset), and errors that
// name the event and the field. Its page at / calls them through
// /_nows/nows.js.
//
//	go run ./examples/jsonrpc --addr 127.0.0.1:8765   # or NOWS_ADDR=127.0.0.1:8765
//	go run ./examples/jsonrpc -help                   # every flag and its NOWS_* variable
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

	"github.com/nowebsocket/nows/examples/jsonrpc/blueprints"
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
	opts.BindFlags(flag.CommandLine)
	adm := admin.New(&opts) // /metrics and the dashboard on --admin-addr (127.0.0.1:8766)
	adm.BindFlags(flag.CommandLine)
	deps := &blueprints.Deps{Logger: logger}
	deps.BindFlags(flag.CommandLine)
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	flag.Parse()
	if err := adm.Run(context.Background(), framework.NewServer(opts), blueprints.All(deps)...); err != nil {
		fmt.Fprintln(os.Stderr, "jsonrpc:", err)
		os.Exit(1)
	}
}
