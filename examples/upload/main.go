// Command upload saves the binary messages it receives as files: a text
// message names the next file, a binary message is its content. Messages
// over --max-message-bytes close the connection with 1009. On
// /upload/{name:filename} the path names the first file. A test page is
// served at /.
//
//	go run ./examples/upload --dir ./uploads --max-message-bytes 10485760
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

	"github.com/nowebsocket/nows/examples/upload/blueprints"
	"github.com/nowebsocket/nows/framework"
)

//go:embed static
var static embed.FS

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "upload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("upload", flag.ContinueOnError)
	addr := fset.String("addr", envOr("NOWS_ADDR", framework.DefaultAddr), "address to listen on (env NOWS_ADDR)")
	dir := fset.String("dir", "", "directory to save files in (default: a new temporary directory)")
	maxMsg := fset.Int64("max-message-bytes", framework.DefaultMaxMessageBytes, "largest file accepted, in bytes; larger ones close with 1009")
	if err := fset.Parse(args); err != nil {
		return err
	}
	framework.SetupLogging(slog.LevelInfo)

	if *dir == "" {
		tmp, err := os.MkdirTemp("", "nows-upload-")
		if err != nil {
			return err
		}
		*dir = tmp
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	slog.Info("saving uploads", "dir", *dir, "max_bytes", *maxMsg)

	page, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Addr:            *addr,
		MaxMessageBytes: *maxMsg,
		ParamTypes:      []framework.ParamType{blueprints.FileName}, // for /upload/{name:filename}
		Fallback:        http.FileServerFS(page),
	})
	if err := srv.Register(blueprints.Upload(*dir)); err != nil {
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
