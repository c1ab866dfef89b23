package main

import (
	"testing"

	"github.com/nowebsocket/nows/examples/internal/apptest"
)

// TestMainRoutes runs the app's binary as `echo --routes --log-level debug` would: the
// flags parse, the blueprints register, and the route table is printed
// instead of serving.
func TestMainRoutes(t *testing.T) {
	got := apptest.Routes(t, "--log-level", "debug")
	want := "/echo EchoHandler\n/echo/{message:str} GreetHandler\n"
	if got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}
