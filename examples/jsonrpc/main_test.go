package main

import (
	"testing"

	"github.com/nowebsocket/nows/examples/internal/apptest"
)

// TestMainRoutes runs the app's binary with --routes: the flags parse, the blueprints
// register, and the route table is printed instead of serving.
func TestMainRoutes(t *testing.T) {
	got := apptest.Routes(t, "--log-level", "error")
	if want := "/rpc Session\n"; got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}
