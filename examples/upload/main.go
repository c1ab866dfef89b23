// Command upload saves the binary messages it receives as files: a text
// message names the next file, a binary message is its content. Messages
// over --max-message-bytes close the connection with 1009. On
// /upload/{name:filename} the path names the first file. A test page is
// served at /.
//
//	go run ./examples/upload --dir ./uploads --max-message-bytes 10MiB
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

	"github.com/nowebsocket/nows/examples/upload/blueprints"
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
	opts.ParamTypes = map[string]func(string) (any, error){"filename": blueprints.ParseFileName}
	opts.BindFlags(flag.CommandLine)
	adm := admin.New(&opts) // /metrics and the dashboard on --admin-addr (127.0.0.1:8766)
	adm.BindFlags(flag.CommandLine)
	deps := &blueprints.Deps{Logger: logger}
	deps.BindFlags(flag.CommandLine)
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	flag.Parse()
	if err := adm.Run(context.Background(), framework.NewServer(opts), blueprints.All(deps)...); err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}
