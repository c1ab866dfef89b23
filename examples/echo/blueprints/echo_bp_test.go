package blueprints_test

import (
	"log/slog"
	"testing"

	"github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework/wstest"
)

func TestEcho(t *testing.T) {
	deps := &blueprints.Deps{Logger: slog.New(slog.DiscardHandler)}
	srv := wstest.NewServer(t, blueprints.All(deps)...)
	c := srv.Dial(t, "/echo/hello")
	c.ExpectText("initial message: hello")
	c.SendText("hi")
	c.ExpectText("hi")
	c.SendBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{1, 2, 3})

	plain := srv.Dial(t, "/echo")
	plain.SendText("no greeting")
	plain.ExpectText("no greeting")
}
