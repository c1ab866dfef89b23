package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// The tests run against a real nows server: an events route /ev, served
// by testRoom, and a plain route /plain.

// testRoom is the events handler of the tests; a fresh one serves each
// connection.
type testRoom struct {
	w    *world
	name string
}

type roomText struct {
	Room string `json:"room"`
	Text string `json:"text"`
}

// OnOpen asks the client to double 21 when the URL says ?ask=1: a
// server-initiated request from a hook.
func (h *testRoom) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.name = c.Request().URL.Query().Get("name")
	if c.Request().URL.Query().Get("ask") != "" {
		return h.Ask(ctx, c, 21)
	}
	return nil
}

// OnJoin refuses the room "secret", and those the world says.
func (h *testRoom) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if h.w.isRefused(room) {
		return errors.New("no")
	}
	return nil
}

func (h *testRoom) Echo(ctx context.Context, c *framework.Conn, in json.RawMessage) (json.RawMessage, error) {
	return in, nil
}

func (h *testRoom) Fail(ctx context.Context, c *framework.Conn, in struct{ Name string }) (struct{}, error) {
	return struct{}{}, &events.Error{Code: "taken", Message: "name taken", Field: "name"}
}

// Never answers after a while: later than the tests' timeouts.
func (h *testRoom) Never(ctx context.Context, c *framework.Conn, in json.RawMessage) (struct{}, error) {
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return struct{}{}, nil
}

func (h *testRoom) Count(ctx context.Context, c *framework.Conn, n int) error {
	h.w.add(strconv.Itoa(n))
	return nil
}

func (h *testRoom) Shout(ctx context.Context, c *framework.Conn, in roomText) error {
	return events.Broadcast(ctx, c.Hub(), in.Room, "said", in.Text)
}

// Others says in.Text to the room's other members; in a room with
// history the sender gets its position alone (nows.pos).
func (h *testRoom) Others(ctx context.Context, c *framework.Conn, in roomText) error {
	return events.BroadcastOthers(ctx, c, in.Room, "said", in.Text)
}

// Send is the chat of the examples: a message to a room, answered with
// its number.
func (h *testRoom) Send(ctx context.Context, c *framework.Conn, in roomText) (struct {
	ID int `json:"id"`
}, error) {
	var ack struct {
		ID int `json:"id"`
	}
	if in.Text == "" {
		return ack, &events.Error{Code: "empty", Message: "text is empty", Field: "text"}
	}
	ack.ID = 1
	return ack, events.Broadcast(ctx, c.Hub(), in.Room, "chat.message", map[string]string{"name": h.name, "text": in.Text})
}

// Ask sends the client the request "double" and the event "answer" with
// its reply, or its error's code.
func (h *testRoom) Ask(ctx context.Context, c *framework.Conn, n int) error {
	var out json.RawMessage
	if err := events.Request(ctx, c, "double", n, &out); err != nil {
		var e *events.Error
		if !errors.As(err, &e) {
			return err
		}
		out, _ = json.Marshal(e.Code)
	}
	return events.Emit(ctx, c, "answer", out)
}

func (h *testRoom) Close(ctx context.Context, c *framework.Conn, code int) error {
	return c.Close(websocket.StatusCode(code), "asked")
}

func (h *testRoom) Plain(ctx context.Context, c *framework.Conn, _ json.RawMessage) error {
	if err := c.SendText(ctx, "hello, plain"); err != nil {
		return err
	}
	return c.SendBinary(ctx, []byte{1, 2, 3})
}

// plainRoom is a plain route: it does not speak nows.v1.
type plainRoom struct{}

func (plainRoom) OnMessage(ctx context.Context, c *framework.Conn, text string) error { return nil }

// server is a nows server on 127.0.0.1.
type server struct {
	addr string
	hub  *framework.Hub
	stop func() // idempotent
}

func (s *server) url(path string) string { return "ws://" + s.addr + path }

// startServer serves the test routes on addr ("127.0.0.1:0" for any
// port), until stop or the end of the test.
func startServer(t testing.TB, w *world, addr string) *server {
	s, err := serve(w, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func serve(w *world, addr string) (*server, error) {
	bp := framework.NewBlueprint("",
		events.RouteFunc("/ev", func() *testRoom { return &testRoom{w: w} },
			events.Handle("echo", (*testRoom).Echo),
			events.Handle("fail", (*testRoom).Fail),
			events.Handle("never", (*testRoom).Never),
			events.Handle("chat.send", (*testRoom).Send),
			events.On("count", (*testRoom).Count),
			events.On("shout", (*testRoom).Shout),
			events.On("others", (*testRoom).Others),
			events.On("ask", (*testRoom).Ask),
			events.On("close", (*testRoom).Close),
			events.On("plain", (*testRoom).Plain),
		),
		framework.Route[plainRoom]("/plain"),
	)
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler),
		Hub: framework.HubOptions{History: w.historyConfig()}})
	if err := srv.Register(bp); err != nil {
		return nil, err
	}
	// A restarted server takes the port of the one before: retry a moment.
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	var once sync.Once
	return &server{addr: ln.Addr().String(), hub: srv.Hub(), stop: func() {
		once.Do(func() { cancel(); <-done })
	}}, nil
}

func exampleServer() (url string, stop func()) {
	s, err := serve(newWorld(), "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return s.url("/ev"), s.stop
}
