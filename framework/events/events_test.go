package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/wire"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Room is the handler the tests dial: every hook and every kind of event.
type Room struct {
	closed chan<- string // told when OnClose runs, if set
	mu     sync.Mutex
	log    []string // what ran, in order
}

type textMsg struct {
	Text string `json:"text"`
}

type ack struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// checked has a Validate method.
type checked struct {
	N int `json:"n"`
}

func (c checked) Validate() error {
	if c.N < 1 {
		return errors.New("n must be positive")
	}
	return nil
}

type nonce struct {
	Nonce int `json:"nonce"`
}

func (r *Room) note(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func (r *Room) OnOpen(ctx context.Context, c *framework.Conn) error {
	r.note("open")
	switch q := c.Request().URL.Query(); {
	case q.Has("fail"):
		return errors.New("no database")
	case q.Has("panic"):
		panic("open panicked")
	}
	if c.Request().URL.Query().Has("ask") { // a request from inside OnOpen
		var got nonce
		err := events.Request(ctx, c, "ping.me", nonce{7}, &got)
		return events.Emit(ctx, c, "asked", map[string]any{"nonce": got.Nonce, "err": errText(err)})
	}
	return nil
}

func (r *Room) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if room, ok := strings.CutPrefix(text, "join:"); ok { // plain clients join this way
		if err := c.Join(room); err != nil {
			return err
		}
	}
	return c.SendText(ctx, "plain:"+text)
}

func (r *Room) OnClose(c *framework.Conn, st framework.CloseStatus) {
	r.note("close")
	if r.closed != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.closed <- fmt.Sprintf("%d %v: %s", int(st.Code), st.Cause, strings.Join(r.log, ", "))
	}
}

func (r *Room) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	switch {
	case strings.HasPrefix(room, "secret"):
		return errors.New("members only")
	case room == "vip":
		return &events.Error{Code: "payment_required", Message: "vip rooms cost extra"}
	}
	return nil
}

func (r *Room) Send(ctx context.Context, c *framework.Conn, m textMsg) (ack, error) {
	return ack{ID: 42, Text: m.Text}, nil
}

func (r *Room) Typing(ctx context.Context, c *framework.Conn, m textMsg) error {
	return events.Emit(ctx, c, "typed", m)
}

func (r *Room) Refuse(ctx context.Context, c *framework.Conn, m textMsg) (ack, error) {
	return ack{}, fmt.Errorf("wrapped: %w", &events.Error{Code: "too_long", Message: "text too long", Field: "text"})
}

func (r *Room) Broken(ctx context.Context, c *framework.Conn, m textMsg) error {
	return errors.New("database on fire")
}

func (r *Room) Check(ctx context.Context, c *framework.Conn, m checked) (int, error) {
	return m.N * 2, nil
}

func (r *Room) Ask(ctx context.Context, c *framework.Conn, m nonce) (nonce, error) {
	var got nonce
	if m.Nonce < 0 { // short deadline: the client does not answer
		ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err := events.Request(ctx, c, "ping.me", m, &got)
		return nonce{}, &events.Error{Code: "asked", Message: errText(err)}
	}
	if err := events.Request(ctx, c, "ping.me", m, &got); err != nil {
		r.note("ask: " + err.Error())
		return nonce{}, &events.Error{Code: "asked", Message: errText(err)}
	}
	return got, nil
}

func (r *Room) Quit(ctx context.Context, c *framework.Conn, _ struct{}) error {
	return websocket.CloseError{Code: 4000, Reason: "bye"}
}

func (r *Room) Panic(ctx context.Context, c *framework.Conn, _ struct{}) error {
	panic("kaboom")
}

func (r *Room) Shout(ctx context.Context, c *framework.Conn, m textMsg) error {
	return events.Broadcast(ctx, c.Hub(), "lobby", "chat.message", m)
}

func (r *Room) Whisper(ctx context.Context, c *framework.Conn, m textMsg) error {
	return events.BroadcastOthers(ctx, c, "lobby", "chat.message", m)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func roomRoute(template string, closed chan<- string) framework.RouteSpec {
	return events.RouteFunc(template, func() *Room { return &Room{closed: closed} },
		events.Handle("chat.send", (*Room).Send),
		events.On("typing", (*Room).Typing),
		events.Handle("refuse", (*Room).Refuse),
		events.On("broken", (*Room).Broken),
		events.Handle("check", (*Room).Check),
		events.Handle("ask", (*Room).Ask),
		events.On("quit", (*Room).Quit),
		events.On("panic", (*Room).Panic),
		events.On("shout", (*Room).Shout),
		events.On("whisper", (*Room).Whisper),
	)
}

// newServer serves the Room at /room, and returns it with the channel
// OnClose reports to.
func newServer(t *testing.T) (*wstest.Server, chan string) {
	closed := make(chan string, 16)
	return wstest.NewServer(t, framework.NewBlueprint("", roomRoute("/room", closed))), closed
}

// dial connects with the protocol.
func dial(t *testing.T, srv *wstest.Server, path string) *wstest.Client {
	t.Helper()
	c, _, err := srv.DialOptions(t, path, &websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if p := c.Conn().Subprotocol(); p != events.Subprotocol {
		t.Fatalf("subprotocol %q, want %q", p, events.Subprotocol)
	}
	return c
}

// exchange sends each request and expects each reply, byte for byte.
func exchange(t *testing.T, c *wstest.Client, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		c.SendText(pairs[i])
		if pairs[i+1] != "" {
			c.ExpectText(pairs[i+1])
		}
	}
}

func TestSubprotocolIsWire(t *testing.T) {
	if events.Subprotocol != wire.Subprotocol {
		t.Errorf("events.Subprotocol %q, wire.Subprotocol %q", events.Subprotocol, wire.Subprotocol)
	}
}

func TestReplies(t *testing.T) {
	srv, _ := newServer(t)
	c := dial(t, srv, "/room")
	exchange(t, c,
		// ok reply, unknown members ignored
		`{"event":"chat.send","id":3,"data":{"text":"hi","extra":true},"x":1}`, `{"reply":3,"data":{"id":42,"text":"hi"}}`,
		// an event: no reply; the method emits
		`{"event":"typing","data":{"text":"a"}}`, `{"event":"typed","data":{"text":"a"}}`,
		// On answered as a request: null data
		`{"event":"typing","id":4,"data":{"text":"b"}}`, `{"event":"typed","data":{"text":"b"}}`,
	)
	c.ExpectText(`{"reply":4,"data":null}`)
	exchange(t, c,
		// a Handle sent as an event: runs, no reply; then a request
		`{"event":"chat.send","data":{"text":"x"}}`, ``,
		`{"event":"chat.send","id":5}`, `{"reply":5,"data":{"id":42,"text":""}}`,
		// *events.Error, wrapped: as it is, with the event filled in
		`{"event":"refuse","id":6,"data":{}}`, `{"reply":6,"error":{"code":"too_long","message":"text too long","event":"refuse","field":"text"}}`,
		// a plain error: internal, logged
		`{"event":"broken","id":7}`, `{"reply":7,"error":{"code":"internal","message":"internal error","event":"broken"}}`,
		// an event without id failing: an error envelope all the same
		`{"event":"broken"}`, `{"error":{"code":"internal","message":"internal error","event":"broken"}}`,
		`{"event":"chat.sedn","data":{}}`, `{"error":{"code":"unknown_event","message":"unknown event \"chat.sedn\"","event":"chat.sedn"}}`,
		`{"event":"chat.sedn","id":8}`, `{"reply":8,"error":{"code":"unknown_event","message":"unknown event \"chat.sedn\"","event":"chat.sedn"}}`,
		`{"event":"nows.other","id":9}`, `{"reply":9,"error":{"code":"unknown_event","message":"unknown event \"nows.other\"","event":"nows.other"}}`,
		`{"event":"chat.send","id":3,"data":{"text":5}}`, `{"reply":3,"error":{"code":"bad_payload","message":"data.text: want string, got number","event":"chat.send","field":"text"}}`,
		`{"event":"chat.send","data":[1]}`, `{"error":{"code":"bad_payload","message":"data: want object, got array","event":"chat.send"}}`,
		`{"event":"check","id":10,"data":{"n":0}}`, `{"reply":10,"error":{"code":"invalid","message":"n must be positive","event":"check"}}`,
		`{"event":"check","id":11,"data":{"n":2}}`, `{"reply":11,"data":4}`,
		`hello`, `{"error":{"code":"bad_json","message":"not a JSON object"}}`,
		`{"data":{}}`, `{"error":{"code":"bad_envelope","message":"no event and no reply"}}`,
		`{"event":"chat.send","id":1.5}`, `{"error":{"code":"bad_envelope","message":"id must be an integer from 1 to 2^53-1","event":"chat.send"}}`,
		// a reply nobody waits for is ignored
		`{"reply":99,"data":1}`, ``,
		`{"event":"chat.send","id":12,"data":{"text":"still here"}}`, `{"reply":12,"data":{"id":42,"text":"still here"}}`,
	)
	c.Close()
}

func TestJoinLeave(t *testing.T) {
	srv, _ := newServer(t)
	a := dial(t, srv, "/room")
	b := dial(t, srv, "/room")
	plain := srv.Dial(t, "/room")
	exchange(t, a,
		`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`, `{"reply":1,"data":{"room":"lobby"}}`,
		`{"event":"nows.join","id":2,"data":{"room":"secret-1"}}`, `{"reply":2,"error":{"code":"forbidden","message":"members only","event":"nows.join"}}`,
		`{"event":"nows.join","id":3,"data":{"room":"vip"}}`, `{"reply":3,"error":{"code":"payment_required","message":"vip rooms cost extra","event":"nows.join"}}`,
		`{"event":"nows.join","id":4,"data":{}}`, `{"reply":4,"error":{"code":"invalid","message":"data.room: want the room's name","event":"nows.join","field":"room"}}`,
	)
	exchange(t, b, `{"event":"nows.join","id":1,"data":{"room":"lobby"}}`, `{"reply":1,"data":{"room":"lobby"}}`)
	waitMembers(t, srv, "lobby", 2)
	// A plain member in the same room.
	exchange(t, plain, "join:lobby", "plain:join:lobby")
	waitMembers(t, srv, "lobby", 3)

	// Broadcast: event members get the envelope, plain members its text.
	want := `{"event":"chat.message","data":{"text":"hello"}}`
	a.SendText(`{"event":"shout","data":{"text":"hello"}}`)
	a.ExpectText(want)
	b.ExpectText(want)
	plain.ExpectText(want)
	// BroadcastOthers leaves the sender out.
	b.SendText(`{"event":"whisper","data":{"text":"psst"}}`)
	a.ExpectText(`{"event":"chat.message","data":{"text":"psst"}}`)
	plain.ExpectText(`{"event":"chat.message","data":{"text":"psst"}}`)

	exchange(t, a, `{"event":"nows.leave","id":5,"data":{"room":"lobby"}}`, `{"reply":5,"data":{"room":"lobby"}}`)
	waitMembers(t, srv, "lobby", 2)
	b.SendText(`{"event":"shout","data":{"text":"bye"}}`)
	b.ExpectText(`{"event":"chat.message","data":{"text":"bye"}}`)
	plain.ExpectText(`{"event":"chat.message","data":{"text":"bye"}}`)
	a.SendText(`{"event":"chat.send","id":6}`)
	a.ExpectText(`{"reply":6,"data":{"id":42,"text":""}}`) // and not the broadcast
}

func waitMembers(t *testing.T, srv *wstest.Server, room string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Hub().LocalMembers(room)) != want {
		if time.Now().After(deadline) {
			t.Fatalf("room %s has %d members, want %d", room, len(srv.Hub().LocalMembers(room)), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
