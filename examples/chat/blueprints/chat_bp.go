// Package blueprints holds the chat example's blueprint: NoWebsocket's
// /chat/room/{room_id} with the rooms the guide leaves out, for plain
// WebSocket clients and for nows.js alike.
package blueprints

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// Chat serves /chat/room/{room_id:str}: every text message a member sends
// goes to every member of that room, on every node. A plain WebSocket
// client is in the room from its connection on and sends its messages as
// text; a client speaking nows.v1 (nows.js, framework/client) joins the
// path's room with nows.join, which recovers what it missed when the rooms
// have history, sends the request chat.send and gets an Ack. Both see the
// room as the same JSON Events. Its handlers log through d.Logger.
func Chat(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/chat",
		events.RouteFunc("/room/{room_id:str}", func() *Room { return &Room{deps: d} },
			events.Handle("chat.send", (*Room).Send),
			events.Handle("chat.members", (*Room).ListMembers),
		),
	)
}

// Event is what members receive, as JSON: a message, or a join or leave
// notice with the room's members. Plain members get it as a text message;
// nows.v1 members as the event "message", whose data is that text. It is
// also the reply to chat.members.
type Event struct {
	Type    string   `json:"type"` // "message", "join", "leave"; "members" for chat.members
	Room    string   `json:"room"`
	Name    string   `json:"name"`
	Text    string   `json:"text,omitempty"`
	Members []string `json:"members,omitempty"`
}

// Room is one member of a room: a fresh Room is made for every connection.
type Room struct {
	deps *Deps
	room string
	name string
	sent int // messages sent with chat.send
}

// maxName bounds nicknames, in characters.
const maxName = 32

// SendMsg is the payload of the request chat.send.
type SendMsg struct {
	Text string `json:"text"`
}

// Validate refuses an empty message: the client gets the error invalid.
func (m SendMsg) Validate() error {
	if strings.TrimSpace(m.Text) == "" {
		return errors.New("text is empty")
	}
	return nil
}

// Ack answers chat.send once the message is on its way to the room: Seq
// counts the messages this connection sent, from 1.
type Ack struct {
	Room string `json:"room"`
	Seq  int    `json:"seq"`
}

// OnOpen joins a plain client to the room named in the path, with the
// nickname from ?name=, and tells everyone in the room (the newcomer
// included). A nows.v1 client joins with nows.join (OnJoin).
func (h *Room) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.room = c.Params().Str("room_id")
	h.name = nickname(c.Request().URL.Query().Get("name"), c.ID())
	c.SetUser(h.name)
	if c.Subprotocol() == events.Subprotocol {
		return nil
	}
	if err := c.Join(h.room); err != nil {
		return err
	}
	return h.broadcast(ctx, c, Event{Type: "join", Room: h.room, Name: h.name, Members: h.members(c)})
}

// OnJoin lets a nows.v1 client join the room of its path, and no other,
// and tells the others (BroadcastOthers: the joiner never gets its own
// notice). The join comes after OnJoin, from the position the client
// sends back: after a reconnect, it gets the messages it missed first. A
// notice that cannot be sent is logged and the join goes on: refusing it
// would make the client forget the room.
func (h *Room) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if room != h.room {
		return errors.New("this connection's room is " + strconv.Quote(h.room))
	}
	if slices.Contains(c.Rooms(), room) {
		return nil // joined already: the others know
	}
	members := append(h.members(c), h.name)
	slices.Sort(members)
	m, err := framework.JSON(Event{Type: "join", Room: h.room, Name: h.name, Members: members})
	if err == nil {
		err = c.BroadcastOthers(ctx, h.room, m)
	}
	if err != nil {
		h.deps.Logger.Warn("chat: join notice not sent", "room", h.room, "err", err)
	}
	return nil
}

// OnMessage sends the text, as sent, to every member of the room.
func (h *Room) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return h.broadcast(ctx, c, Event{Type: "message", Room: h.room, Name: h.name, Text: text})
}

// Send is the request chat.send: it sends the text to every member of the
// room, exactly as a plain member's text message, and acknowledges it.
func (h *Room) Send(ctx context.Context, c *framework.Conn, m SendMsg) (Ack, error) {
	if err := h.broadcast(ctx, c, Event{Type: "message", Room: h.room, Name: h.name, Text: m.Text}); err != nil {
		return Ack{}, err
	}
	h.sent++
	return Ack{Room: h.room, Seq: h.sent}, nil
}

// ListMembers is the request chat.members: who is in the room now. A
// nows.v1 client asks once it has joined, since its own join notice does
// not reach it.
func (h *Room) ListMembers(ctx context.Context, c *framework.Conn, _ struct{}) (Event, error) {
	return Event{Type: "members", Room: h.room, Members: h.members(c)}, nil
}

// OnClose tells the others that this member left, if it had joined. The
// connection is still in the room during OnClose; it leaves right after.
func (h *Room) OnClose(c *framework.Conn, status framework.CloseStatus) {
	if !slices.Contains(c.Rooms(), h.room) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	members := h.members(c)
	for i, m := range members {
		if m == h.name {
			members = append(members[:i], members[i+1:]...)
			break
		}
	}
	ev := Event{Type: "leave", Room: h.room, Name: h.name, Members: members}
	m, err := framework.JSON(ev)
	if err == nil {
		err = c.BroadcastOthers(ctx, h.room, m)
	}
	if err != nil {
		h.deps.Logger.Warn("chat: leave notice not sent", "room", h.room, "err", err)
	}
}

func (h *Room) broadcast(ctx context.Context, c *framework.Conn, ev Event) error {
	m, err := framework.JSON(ev)
	if err != nil {
		return err
	}
	return c.Hub().Broadcast(ctx, h.room, m)
}

// members returns the nicknames in the room, on every node, sorted.
func (h *Room) members(c *framework.Conn) []string {
	var names []string
	for _, m := range c.Hub().Members(h.room) {
		names = append(names, m.User)
	}
	slices.Sort(names)
	return names
}

// nickname cleans the requested name, or makes one from the connection ID.
func nickname(name, id string) string {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > maxName {
		name = string([]rune(name)[:maxName])
	}
	if name == "" {
		name = "guest-" + id[strings.LastIndexByte(id, '.')+1:]
	}
	return name
}
