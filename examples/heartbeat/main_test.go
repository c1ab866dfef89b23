package main

import (
	"testing"

	"github.com/nowebsocket/nows/examples/internal/apptest"
)

// TestMainRoutes runs the app's binary with every flag of its own and --routes: the
// flags parse, the blueprints register, and the route table is printed
// instead of serving.
func TestMainRoutes(t *testing.T) {
	got := apptest.Routes(t, "--ping-interval", "10s", "--pong-timeout", "5s", "--heartbeat-window", "20s", "--log-level", "warn")
	if want := "/heartbeat/keepalive KeepAlive\n/heartbeat/manual Manual\n"; got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}
