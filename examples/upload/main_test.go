package main

import (
	"testing"

	"github.com/nowebsocket/nows/examples/internal/apptest"
)

// TestMainRoutes runs the app's binary with --dir and --routes: the flags parse, the
// blueprints register (the filename type is in Options.ParamTypes), and
// the route table is printed instead of serving.
func TestMainRoutes(t *testing.T) {
	got := apptest.Routes(t, "--dir", t.TempDir(), "--max-message-bytes", "10MiB")
	if want := "/upload Uploader\n/upload/{name:filename} Uploader\n"; got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}
