package blueprints

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// Chat returns the blueprint of /chat: clients join rooms (nows.join,
// which OnJoin admits) and send messages to them with the request
// chat.send; every member of the room gets the event chat.message.
func Chat(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/chat",
		events.RouteFunc("", func() *ChatHandler { return &ChatHandler{deps: d} },
			events.Handle("chat.send", (*ChatHandler).Send),
		),
	)
}

// ChatSend is the payload of the request chat.send.
type ChatSend struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// Validate refuses an empty text: the client gets the error "invalid" and
// Send is not called.
func (m ChatSend) Validate() error {
	if strings.TrimSpace(m.Text) == "" {
		return errors.New("text is empty")
	}
	return nil
}

// ChatMessage is the event chat.message, which every member of the room
// gets, the sender included.
type ChatMessage struct {
	Room string `json:"room"`
	From string `json:"from"`
	Text string `json:"text"`
}

// roomName is what OnJoin admits: a name that is safe to show and to use
// as a label.
var roomName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// ChatHandler is one connection to /chat. A fresh one is made for every
// connection, and its methods never run concurrently, so its fields are
// that connection's state.
type ChatHandler struct {
	deps *Deps  // what every handler shares (deps.go)
	user string // who this is: OnHandshake (auth.go) sets it from the token
}

// OnOpen names the connection after its user: Hub.Members then says who
// is in which room, on every node, and Hub.DisconnectUser finds them.
func (h *ChatHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	c.SetUser(h.user)
	h.deps.Logger.DebugContext(ctx, "open", "user", h.user, "remote", c.RemoteAddr())
	return nil
}

// OnJoin admits the client into any room with a valid name; its error is
// the client's "forbidden".
func (h *ChatHandler) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if !roomName.MatchString(room) {
		return errors.New("a room name is 1 to 32 of a-z, 0-9 and -")
	}
	return nil
}

// Send is the request chat.send: it broadcasts the text to the room as
// chat.message, and its reply (an empty object) tells the client the room
// has it.
func (h *ChatHandler) Send(ctx context.Context, c *framework.Conn, in ChatSend) (struct{}, error) {
	if !slices.Contains(c.Rooms(), in.Room) {
		return struct{}{}, &events.Error{Code: "not_joined", Message: "join the room first", Field: "room"}
	}
	msg := ChatMessage{Room: in.Room, From: h.user, Text: in.Text}
	return struct{}{}, events.Broadcast(ctx, c.Hub(), in.Room, "chat.message", msg)
}

// OnClose runs once when the connection has ended, whoever closed it.
func (h *ChatHandler) OnClose(c *framework.Conn, status framework.CloseStatus) {
	h.deps.Logger.Debug("close", "user", h.user, "code", int(status.Code), "reason", status.Reason)
}
