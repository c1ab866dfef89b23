package blueprints_test

import (
	"testing"

	"github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework/wstest"
)

func TestEcho(t *testing.T) {
	srv := wstest.NewServer(t, blueprints.Echo)
	c := srv.Dial(t, "/echo/hello")
	c.ExpectText("initial message: hello")
	c.SendText("hi")
	c.ExpectText("hi")
	c.SendBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{1, 2, 3})
}
