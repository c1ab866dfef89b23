package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
)

// envelope is a nows.v1 message as docs/protocol.md defines it.
type envelope struct {
	Event string          `json:"event,omitempty"`
	ID    int64           `json:"id,omitempty"`
	Reply int64           `json:"reply,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *struct {
		Code, Message, Event, Field string
	} `json:"error,omitempty"`
	Room string            `json:"room,omitempty"`
	Pos  *history.Position `json:"pos,omitempty"`
}

// dialEvents connects to path offering nows.v1, as nows.js does, and
// checks the server chose it.
func dialEvents(t *testing.T, srv *wstest.Server, path string) *wstest.Client {
	t.Helper()
	c, _, err := srv.DialOptions(t, path, &websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Conn().Subprotocol(); got != events.Subprotocol {
		t.Fatalf("the server chose subprotocol %q, want %q", got, events.Subprotocol)
	}
	return c
}

func readEnvelope(t *testing.T, c *wstest.Client) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal([]byte(c.ReadText()), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// joinEvents joins c, a nows.v1 client, to room with the request id, as
// nows.js does, and returns the reply's data.
func joinEvents(t *testing.T, c *wstest.Client, id int64, room string) joined {
	t.Helper()
	c.SendJSON(envelope{Event: "nows.join", ID: id, Data: mustJSON(t, map[string]string{"room": room})})
	e := readEnvelope(t, c)
	var j joined
	if e.Reply != id || e.Error != nil || json.Unmarshal(e.Data, &j) != nil || j.Room != room {
		t.Fatalf("got %+v (data %s), want reply %d joining %q", e, e.Data, id, room)
	}
	return j
}

// joined is the data of the reply to nows.join.
type joined struct {
	Room      string            `json:"room"`
	Pos       *history.Position `json:"pos"`
	Recovered *bool             `json:"recovered"`
}

// expectRoomEvent reads the next message of c, a nows.v1 member of a room
// with history, and checks it as expectEvent does.
func expectRoomEvent(t *testing.T, c *wstest.Client, want blueprints.Event) {
	t.Helper()
	expectRoomText(t, c.ReadText(), want)
}

// expectRoomText checks a message of a room with history to a nows.v1
// member: the room's JSON text as a plain member gets it, in the envelope
// nows.text with the room and its position (nows.js hands it over as the
// event "message").
func expectRoomText(t *testing.T, text string, want blueprints.Event) {
	t.Helper()
	var e envelope
	var data string
	if err := json.Unmarshal([]byte(text), &e); err != nil || e.Event != "nows.text" || e.Room != want.Room ||
		e.Pos == nil || e.Pos.Offset == 0 || json.Unmarshal(e.Data, &data) != nil {
		t.Fatalf("got %s, want the room's JSON text in nows.text, with room %q and pos", text, want.Room)
	}
	var got blueprints.Event
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatalf("got %q: %v", data, err)
	}
	matchEvent(t, got, want)
}

// TestChatEvents: a nows.v1 member (as nows.js) and a plain member share
// a room across two nodes. The nows.v1 member's chat.send reaches the
// plain member as the same JSON a plain member's text makes, and is
// acknowledged; the room's JSON reaches the nows.v1 member as it is.
func TestChatEvents(t *testing.T) {
	n1, n2 := twoNodes(t)

	ann := n1.Dial(t, "/chat/room/tea?name=ann")
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "tea", Name: "ann", Members: []string{"ann"}})
	for !slices.Contains(memberNames(n2.Hub().Members("tea")), "ann") {
		ann.SendText("ping")
		expectEvent(t, ann, blueprints.Event{Type: "message", Room: "tea", Name: "ann", Text: "ping"})
	}
	// bob joins the path's room through the protocol: the reply has the
	// room's position; his join notice goes to the others only, and
	// chat.members tells him who is there.
	bob := dialEvents(t, n2, "/chat/room/tea?name=bob")
	if j := joinEvents(t, bob, 10, "tea"); j.Pos == nil || j.Pos.Epoch == "" || j.Recovered != nil {
		t.Fatalf("join reply %+v: want a position and no recovered", j)
	}
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "tea", Name: "bob", Members: []string{"ann", "bob"}})
	bob.SendJSON(envelope{Event: "chat.members", ID: 11})
	if e, ev := readEnvelope(t, bob), (blueprints.Event{}); e.Reply != 11 || json.Unmarshal(e.Data, &ev) != nil ||
		ev.Type != "members" || ev.Room != "tea" || !slices.Equal(ev.Members, []string{"ann", "bob"}) {
		t.Fatalf("chat.members: got %+v (data %s), want type members, room tea, members [ann bob]", e, e.Data)
	}

	// bob's request: the ack and his own message, in either order (the
	// reply goes straight to him, the message through the room).
	text := `hello "world" <b>ünïcode</b> 👋`
	for id := int64(1); id <= 2; id++ {
		bob.SendJSON(envelope{Event: "chat.send", ID: id, Data: mustJSON(t, blueprints.SendMsg{Text: text})})
		var sawAck, sawMsg bool
		for !sawAck || !sawMsg {
			got := bob.ReadText()
			var e envelope
			if err := json.Unmarshal([]byte(got), &e); err != nil {
				t.Fatal(err)
			}
			if e.Reply == 0 {
				expectRoomText(t, got, blueprints.Event{Type: "message", Room: "tea", Name: "bob", Text: text})
				sawMsg = true
				continue
			}
			var ack blueprints.Ack
			if e.Reply != id || e.Error != nil || json.Unmarshal(e.Data, &ack) != nil || ack != (blueprints.Ack{Room: "tea", Seq: int(id)}) {
				t.Fatalf("got reply %+v (data %s), want reply %d with room tea and seq %d", e, e.Data, id, id)
			}
			sawAck = true
		}
		expectEvent(t, ann, blueprints.Event{Type: "message", Room: "tea", Name: "bob", Text: text})
	}

	ann.SendText("hi bob")
	expectEvent(t, ann, blueprints.Event{Type: "message", Room: "tea", Name: "ann", Text: "hi bob"})
	expectRoomEvent(t, bob, blueprints.Event{Type: "message", Room: "tea", Name: "ann", Text: "hi bob"})

	bob.Close()
	expectEvent(t, ann, blueprints.Event{Type: "leave", Room: "tea", Name: "bob", Members: []string{"ann"}})
}

// TestChatEventsErrors: a request that fails is answered with an error
// naming the event, and nothing reaches the room.
func TestChatEventsErrors(t *testing.T) {
	srv := oneNode(t)
	ann := srv.Dial(t, "/chat/room/r?name=ann")
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "r", Name: "ann"})
	bob := dialEvents(t, srv, "/chat/room/r?name=bob")
	joinEvents(t, bob, 9, "r")
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "r", Name: "bob"})

	for _, tc := range []struct {
		send           string
		code, msg, fld string
	}{
		{`{"event":"chat.send","id":1,"data":{"text":"  "}}`, "invalid", "text is empty", ""},
		{`{"event":"chat.send","id":2,"data":{"text":7}}`, "bad_payload", "", "text"},
		{`{"event":"chat.sedn","id":3,"data":{"text":"x"}}`, "unknown_event", "", ""},
		// The path names the room: joining another one is refused.
		{`{"event":"nows.join","id":4,"data":{"room":"other"}}`, "forbidden", `this connection's room is "r"`, ""},
	} {
		bob.SendText(tc.send)
		e := readEnvelope(t, bob)
		var sent envelope
		_ = json.Unmarshal([]byte(tc.send), &sent)
		if e.Reply != sent.ID || e.Error == nil || e.Error.Code != tc.code || e.Error.Event != sent.Event ||
			tc.msg != "" && e.Error.Message != tc.msg || e.Error.Field != tc.fld {
			t.Errorf("%s: got %+v (error %+v), want reply %d with error %s %q, field %q",
				tc.send, e, e.Error, sent.ID, tc.code, tc.msg, tc.fld)
		}
	}
	// None of them reached the room: ann's next message is her own.
	ann.SendText("still here")
	expectEvent(t, ann, blueprints.Event{Type: "message", Room: "r", Name: "ann", Text: "still here"})
	expectRoomEvent(t, bob, blueprints.Event{Type: "message", Room: "r", Name: "ann", Text: "still here"})
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChatEventsWithoutJoin: a nows.v1 client that does not join is not
// in the room: no notice when it comes or goes, and no room message
// reaches it; its chat.send still reaches the room.
func TestChatEventsWithoutJoin(t *testing.T) {
	srv := oneNode(t)
	ann := srv.Dial(t, "/chat/room/r?name=ann")
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "r", Name: "ann"})
	bot := dialEvents(t, srv, "/chat/room/r?name=bot")
	bot.SendJSON(envelope{Event: "chat.send", ID: 1, Data: mustJSON(t, blueprints.SendMsg{Text: "from outside"})})
	if e := readEnvelope(t, bot); e.Reply != 1 || e.Error != nil {
		t.Fatalf("got %+v, want the ack of chat.send", e)
	}
	expectEvent(t, ann, blueprints.Event{Type: "message", Room: "r", Name: "bot", Text: "from outside"})
	// The next thing bot gets is its reply: the room's message did not
	// reach it, and it is not among the members.
	bot.SendJSON(envelope{Event: "chat.members", ID: 2})
	if e, ev := readEnvelope(t, bot), (blueprints.Event{}); e.Reply != 2 || json.Unmarshal(e.Data, &ev) != nil ||
		!slices.Equal(ev.Members, []string{"ann"}) {
		t.Fatalf("chat.members: got %+v (data %s), want reply 2 with members [ann]", e, e.Data)
	}
	bot.Close()
	// ann's next message is her own: no leave notice came before it.
	ann.SendText("alone")
	expectEvent(t, ann, blueprints.Event{Type: "message", Room: "r", Name: "ann", Text: "alone"})
}
