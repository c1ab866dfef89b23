package brokertest

import (
	"context"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// Rooms is the blueprint the tests serve: /rooms/{room:str}. Its handler is
// [RoomHandler].
var Rooms = framework.NewBlueprint("/rooms",
	framework.Route[RoomHandler]("/{room:str}"),
)

// RoomHandler sets the connection's user key from the query (?user=),
// joins the room named by the path parameter "room" and sends
// "joined <conn ID>". Text messages are commands:
//
//	say:TEXT     Broadcast TEXT to the room
//	others:TEXT  BroadcastOthers TEXT to the room
//	all:TEXT     BroadcastAll TEXT
//	direct:TEXT  SendText TEXT to this connection only
//	mixed:N      "0" .. "N-1" to the room, even numbers by Broadcast and
//	             odd ones by a direct SendText to this connection
//	leave        Leave the room, then send "left"
type RoomHandler struct {
	room string
}

// OnOpen joins the room.
func (h *RoomHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.room = c.Params().Str("room")
	c.SetUser(c.Request().URL.Query().Get("user"))
	if err := c.Join(h.room); err != nil {
		return err
	}
	return c.SendText(ctx, "joined "+c.ID())
}

// OnMessage runs a command.
func (h *RoomHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	cmd, arg, _ := strings.Cut(text, ":")
	hub := c.Hub()
	switch cmd {
	case "say":
		return hub.Broadcast(ctx, h.room, framework.Text(arg))
	case "others":
		return c.BroadcastOthers(ctx, h.room, framework.Text(arg))
	case "all":
		return hub.BroadcastAll(ctx, framework.Text(arg))
	case "direct":
		return c.SendText(ctx, arg)
	case "mixed":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		for i := range n {
			s := strconv.Itoa(i)
			if i%2 == 0 {
				err = hub.Broadcast(ctx, h.room, framework.Text(s))
			} else {
				err = c.SendText(ctx, s)
			}
			if err != nil {
				return err
			}
		}
		return nil
	case "leave":
		c.Leave(h.room)
		return c.SendText(ctx, "left")
	}
	return websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "unknown command"}
}
