package framework_test

import (
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework/wstest"
)

func TestSmokeEcho(t *testing.T) {
	srv := wstest.NewServer(t, blueprints.Echo)
	c := srv.Dial(t, "/echo/hello")
	c.ExpectText("initial message: hello")
	c.SendText("hi")
	c.ExpectText("hi")
	c.SendBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{1, 2, 3})
	c.Close()
	c2 := srv.Dial(t, "/echo")
	c2.SendText("x")
	c2.ExpectText("x")
	_ = websocket.StatusGoingAway
}
