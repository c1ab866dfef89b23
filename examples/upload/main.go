// Command upload saves the binary messages it receives as files: a text
// message names the next file, a binary message is its content. Messages
// over --max-message-bytes close the connection with 1009. On
// /upload/{name:filename} the path names the first file. A test page is
// served at /.
//
//	go run ./examples/upload --dir ./uploads --max-message-bytes 10MiB
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
	deps := &blueprints.Deps{Logger: logger}
	deps.BindFlags(flag.CommandLine)
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	flag.Parse()
	if err := framework.Run(context.Background(), framework.NewServer(opts), blueprints.All(deps)...); err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}
