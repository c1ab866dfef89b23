package main

import (
	"testing"

	"github.com/nowebsocket/nows/examples/internal/apptest"
)

// TestMainRoutes runs the app's binary as `chat --routes --broker ""` would: the flags
// parse, the blueprints register, and the route table is printed instead
// of serving.
func TestMainRoutes(t *testing.T) {
	got := apptest.Routes(t, "--broker", "", "--log-level", "warn")
	if want := "/chat/room/{room_id:str} Room\n"; got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}
