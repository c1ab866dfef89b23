// Command auth accepts only clients that present a token, checked in the
// handshake (401 otherwise), and keeps per-user state on the handler. The
// demo tokens are alice-token and bob-token; set your own with --tokens or
// NOWS_TOKENS ("token=user,token=user"). A test page is served at /.
//
//	NOWS_TOKENS="s3cret=alice,t0ken=bob" go run ./examples/auth
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

	"github.com/nowebsocket/nows/examples/auth/blueprints"
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
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}
