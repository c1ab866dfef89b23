package blueprints

import (
	"log/slog"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// TestAll registers every blueprint of the registry on one server, as
// main.go does: two routes that match the same paths, or a hook whose
// signature the framework would never call, fail here rather than at
// start-up.
func TestAll(t *testing.T) {
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(All(&Deps{Logger: slog.New(slog.DiscardHandler)})...); err != nil {
		t.Fatal(err)
	}
	if len(srv.Routes()) == 0 {
		t.Fatal("the registry lists no route: run nows registry")
	}
}
