package events_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/wstest"
)

func expectClosed(t *testing.T, closed <-chan string, prefix string) string {
	t.Helper()
	select {
	case got := <-closed:
		if !strings.HasPrefix(got, prefix) {
			t.Fatalf("OnClose saw %q, want %q...", got, prefix)
		}
		return got
	case <-time.After(5 * time.Second):
		t.Fatalf("OnClose did not run")
	}
	return ""
}

func TestServerRequestFromEvent(t *testing.T) {
	srv, closed := newServer(t)
	c := dial(t, srv, "/room")
	exchange(t, c,
		`{"event":"ask","id":1,"data":{"nonce":7}}`, `{"event":"ping.me","id":1,"data":{"nonce":7}}`,
		`{"reply":1,"data":{"nonce":8}}`, `{"reply":1,"data":{"nonce":8}}`,
		// the client's error reply
		`{"event":"ask","id":2,"data":{"nonce":1}}`, `{"event":"ping.me","id":2,"data":{"nonce":1}}`,
		`{"reply":2,"error":{"code":"nope","message":"not now"}}`, `{"reply":2,"error":{"code":"asked","message":"nope: not now","event":"ask"}}`,
		// a reply of the wrong type
		`{"event":"ask","id":3,"data":{"nonce":1}}`, `{"event":"ping.me","id":3,"data":{"nonce":1}}`,
		`{"reply":3,"data":{"nonce":"x"}}`, `{"reply":3,"error":{"code":"asked","message":"ping.me: bad_payload: data.nonce: want integer, got string","event":"ask"}}`,
	)
	// The client does not answer: the request times out (the ask
	// method's deadline is 100 ms), and the late reply is ignored.
	exchange(t, c, `{"event":"ask","id":4,"data":{"nonce":-1}}`, `{"event":"ping.me","id":4,"data":{"nonce":-1}}`)
	got := c.ReadText()
	if want := `{"reply":4,"error":{"code":"asked","message":"events: request timed out: \"ping.me\": context deadline exceeded","event":"ask"}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	exchange(t, c, `{"reply":4,"data":{"nonce":1}}`, ``,
		`{"event":"chat.send","id":5}`, `{"reply":5,"data":{"id":42,"text":""}}`)

	// A request in flight when the connection ends fails with ErrClosed,
	// before OnClose, which runs last.
	exchange(t, c, `{"event":"ask","id":6,"data":{"nonce":1}}`, `{"event":"ping.me","id":5,"data":{"nonce":1}}`)
	c.Close()
	if got := expectClosed(t, closed, "1000 peer closed: open, "); !strings.HasSuffix(got, ", ask: framework: connection closed, close") {
		t.Errorf("OnClose saw %q, want the request failed with ErrClosed before OnClose", got)
	}
}

func TestServerRequestFromOnOpen(t *testing.T) {
	srv, _ := newServer(t)
	c := dial(t, srv, "/room?ask=1")
	exchange(t, c,
		// the request comes while OnOpen runs; its reply reaches it
		`{"event":"chat.send","id":1,"data":{"text":"queued behind OnOpen"}}`, `{"event":"ping.me","id":1,"data":{"nonce":7}}`,
		`{"reply":1,"data":{"nonce":8}}`, `{"event":"asked","data":{"err":"","nonce":8}}`,
	)
	c.ExpectText(`{"reply":1,"data":{"id":42,"text":"queued behind OnOpen"}}`)
	c.Close()
}

func TestPlainConnection(t *testing.T) {
	srv, closed := newServer(t)
	c := srv.Dial(t, "/room?ask=1")
	if p := c.Conn().Subprotocol(); p != "" {
		t.Fatalf("subprotocol %q without offering one", p)
	}
	// Request fails on a plain connection; Emit sends the envelope's text.
	c.ExpectText(`{"event":"asked","data":{"err":"events: the connection does not speak nows.v1","nonce":0}}`)
	exchange(t, c, "hi", "plain:hi", `{"event":"chat.send","id":1}`, `plain:{"event":"chat.send","id":1}`)
	c.Close()
	expectClosed(t, closed, "1000 peer closed: open, close")

	// Another subprotocol is plain too.
	c2, _, err := srv.DialOptions(t, "/room", &websocket.DialOptions{Subprotocols: []string{"other"}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c2, "hi", "plain:hi")
	c2.Close()
	expectClosed(t, closed, "1000")
}

// Silent has events and no OnMessage or OnBinary.
type Silent struct{}

func (s *Silent) Echo(ctx context.Context, c *framework.Conn, in string) (string, error) {
	return in, nil
}

// Bin has OnBinary.
type Bin struct{ n int }

func (b *Bin) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	b.n++
	return c.SendBinary(ctx, append(data, byte(b.n)))
}

func (b *Bin) Count(ctx context.Context, c *framework.Conn, _ struct{}) (int, error) { return b.n, nil }

func TestUnsupported(t *testing.T) {
	srv := wstest.NewServer(t, framework.NewBlueprint("",
		events.Route[Silent]("/silent", events.Handle("echo", (*Silent).Echo)),
		events.Route[Bin]("/bin", events.Handle("count", (*Bin).Count)),
	))
	c := srv.Dial(t, "/silent")
	c.SendText("hi")
	if reason := c.ExpectClose(websocket.StatusUnsupportedData); reason != "text messages are not supported" {
		t.Errorf("reason %q", reason)
	}
	c = srv.Dial(t, "/silent")
	c.SendBinary([]byte{1})
	if reason := c.ExpectClose(websocket.StatusUnsupportedData); reason != "binary messages are not supported" {
		t.Errorf("reason %q", reason)
	}
	c = dial(t, srv, "/silent")
	exchange(t, c, `{"event":"echo","id":1,"data":"x"}`, `{"reply":1,"data":"x"}`)
	c.SendBinary([]byte{1})
	c.ExpectClose(websocket.StatusUnsupportedData)

	// OnBinary serves events connections, in order with the events.
	c = dial(t, srv, "/bin")
	c.SendBinary([]byte{9})
	c.ExpectBinary([]byte{9, 1})
	exchange(t, c, `{"event":"count","id":1}`, `{"reply":1,"data":1}`)
	c.Close()
}

func TestFlood(t *testing.T) {
	srv, closed := newServer(t)
	c := dial(t, srv, "/room")
	bad := []string{`nope`, `{}`, `{"event":"zzz"}`, `{"event":"chat.send","data":1}`, `{"event":"check","data":{"n":0}}`}
	for i := range 10 {
		c.SendText(bad[i%len(bad)])
		if got := c.ReadText(); !strings.HasPrefix(got, `{"error":{"code":"`) {
			t.Fatalf("bad message %d: got %s", i, got)
		}
	}
	c.SendText(`nope`)
	if reason := c.ExpectClose(websocket.StatusPolicyViolation); reason != "too many bad messages" {
		t.Errorf("reason %q", reason)
	}
	expectClosed(t, closed, "1008 protocol error")
}

func TestFloodRefills(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2 s")
	}
	srv, _ := newServer(t)
	c := dial(t, srv, "/room")
	for range 10 {
		exchange(t, c, `nope`, `{"error":{"code":"bad_json","message":"not a JSON object"}}`)
	}
	time.Sleep(2100 * time.Millisecond) // two tokens back
	for range 2 {
		exchange(t, c, `nope`, `{"error":{"code":"bad_json","message":"not a JSON object"}}`)
	}
	c.SendText(`nope`)
	c.ExpectClose(websocket.StatusPolicyViolation)
}

func TestCloseAndPanic(t *testing.T) {
	srv, closed := newServer(t)
	c := dial(t, srv, "/room")
	c.SendText(`{"event":"quit"}`)
	if reason := c.ExpectClose(4000); reason != "bye" {
		t.Errorf("reason %q", reason)
	}
	expectClosed(t, closed, "4000 closed by application")
	c = dial(t, srv, "/room")
	c.SendText(`{"event":"panic","id":1}`)
	c.ExpectClose(websocket.StatusInternalError)
	expectClosed(t, closed, "1011 handler panic")
}

// TestOrderUnderLoad pipelines many requests: the bounded queue holds the
// read loop back, and every reply comes, in order.
func TestOrderUnderLoad(t *testing.T) {
	srv, _ := newServer(t)
	c := dial(t, srv, "/room")
	const n = 300
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 1; i <= n; i++ {
			msg := `{"event":"chat.send","id":` + strconv.Itoa(i) + `,"data":{"text":"m"}}`
			if err := c.Conn().Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 1; i <= n; i++ {
		c.ExpectText(`{"reply":` + strconv.Itoa(i) + `,"data":{"id":42,"text":"m"}}`)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// counter counts the messages the server received and sent.
type counter struct{ received, sent atomic.Int64 }

func (o *counter) Observe(e framework.Event) {
	switch e.Kind {
	case framework.EventReceived:
		o.received.Add(1)
	case framework.EventSent:
		o.sent.Add(1)
	}
}

func TestObserverSeesEvents(t *testing.T) {
	obs := &counter{}
	srv := wstest.NewServerOptions(t, framework.Options{Observer: obs}, framework.NewBlueprint("", roomRoute("/room", nil)))
	c := dial(t, srv, "/room")
	exchange(t, c, `{"event":"chat.send","id":1}`, `{"reply":1,"data":{"id":42,"text":""}}`, `x`, `{"error":{"code":"bad_json","message":"not a JSON object"}}`)
	for deadline := time.Now().Add(5 * time.Second); obs.received.Load() != 2 || obs.sent.Load() != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the observer sees a send just after the write
			t.Fatalf("observer saw %d received, %d sent; want 2, 2", obs.received.Load(), obs.sent.Load())
		}
	}
	c.Close()
}

func TestRoutes(t *testing.T) {
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(framework.NewBlueprint("/chat", events.Route[Silent]("/s", events.Handle("echo", (*Silent).Echo)))); err != nil {
		t.Fatal(err)
	}
	info := srv.Routes()[0]
	if info.Template != "/chat/s" || info.Handler != "Silent" || !strings.HasPrefix(info.Source, "events/more_test.go:") {
		t.Errorf("route info %+v", info)
	}
	err := srv.Register(framework.NewBlueprint("", events.RouteFunc("/nil", func() *Silent { return nil })))
	if !errors.Is(err, framework.ErrBadHandler) {
		t.Errorf("a constructor returning nil: %v", err)
	}
}

// Misnamed has hooks with wrong signatures, one at a time (see panics).
type (
	BadOpen    struct{}
	BadJoin    struct{}
	BadSpell   struct{}
	BadMessage struct{}
	BadUnrec   struct{}
	payloadBad struct{}
)

func (*BadOpen) OnOpen(c *framework.Conn) error                                 { return nil }
func (*BadJoin) OnJoin(c *framework.Conn, room string) bool                     { return true }
func (*BadSpell) Onjoin(ctx context.Context, c *framework.Conn, r string) error { return nil }
func (*BadMessage) OnMessage(ctx context.Context, text string) error            { return nil }
func (payloadBad) Validate() bool                                               { return true }

// OnUnrecovered without its error, and with a string for the reason.
func (*BadUnrec) OnUnrecovered(ctx context.Context, c *framework.Conn, room, reason string) {}

func TestConstructionPanics(t *testing.T) {
	ok := func(h *Silent, ctx context.Context, c *framework.Conn, in string) error { return nil }
	tests := []struct {
		name string
		make func()
		want []string
	}{
		{"duplicate", func() { events.Route[Silent]("/x", events.On("a", ok), events.On("a", ok)) },
			[]string{`route "/x" (handler events_test.Silent)`, `two events named "a"`, "rename one"}},
		{"reserved", func() { events.Route[Silent]("/x", events.On("nows.join", ok)) },
			[]string{"events_test.Silent", `"nows.join"`, "the protocol's own: rename it"}},
		{"empty", func() { events.Route[Silent]("/x", events.On("", ok)) },
			[]string{"empty name", "give On or Handle the event's name"}},
		{"zero spec", func() { events.Route[Silent]("/x", events.Spec[Silent]{}) },
			[]string{"events_test.Silent", "zero Spec", "events.On or events.Handle"}},
		{"nil func", func() { events.On[Silent, string]("a", nil) },
			[]string{`On("a", nil)`, "give the method"}},
		{"pointer", func() { events.Route[*Silent]("/x") },
			[]string{"is a pointer", "write Route[events_test.Silent]"}},
		{"OnOpen", func() { events.Route[BadOpen]("/x") },
			[]string{"events_test.BadOpen", "(*events_test.BadOpen).OnOpen has signature func(*framework.Conn) error", "want func(ctx context.Context, c *framework.Conn) error"}},
		{"OnJoin", func() { events.Route[BadJoin]("/x") },
			[]string{"(*events_test.BadJoin).OnJoin has signature func(*framework.Conn, string) bool", "want func(ctx context.Context, c *framework.Conn, room string) error"}},
		{"OnUnrecovered", func() { events.Route[BadUnrec]("/x") },
			[]string{"(*events_test.BadUnrec).OnUnrecovered has signature func(context.Context, *framework.Conn, string, string)",
				"want func(ctx context.Context, c *framework.Conn, room string, reason history.Reason) error"}},
		{"spelling", func() { events.Route[BadSpell]("/x") },
			[]string{"(*events_test.BadSpell).Onjoin is never called: the hook is spelled OnJoin"}},
		{"OnMessage", func() { events.Route[BadMessage]("/x") },
			[]string{"(*events_test.BadMessage).OnMessage has signature func(context.Context, string) error"}},
		{"Validate", func() {
			events.On("v", func(h *Silent, ctx context.Context, c *framework.Conn, in payloadBad) error { return nil })
		}, []string{`event "v"`, "(events_test.payloadBad).Validate has signature func() bool", "want func() error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("panic %q\ndoes not say %q", msg, w)
					}
				}
			}()
			tt.make()
		})
	}
}

func TestNoOnJoin(t *testing.T) {
	srv := wstest.NewServer(t, framework.NewBlueprint("", events.Route[Silent]("/silent", events.Handle("echo", (*Silent).Echo))))
	c := dial(t, srv, "/silent")
	exchange(t, c,
		`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`, `{"reply":1,"error":{"code":"forbidden","message":"this route has no rooms to join","event":"nows.join"}}`,
		`{"event":"nows.join","data":{"room":"lobby"}}`, `{"error":{"code":"forbidden","message":"this route has no rooms to join","event":"nows.join"}}`,
		`{"event":"nows.leave","id":2,"data":{"room":"lobby"}}`, `{"reply":2,"data":{"room":"lobby"}}`,
		`{"event":"nows.join","id":3,"data":{"room":7}}`, `{"reply":3,"error":{"code":"bad_payload","message":"data.room: want string, got number","event":"nows.join","field":"room"}}`,
	)
	if n := len(srv.Hub().LocalMembers("lobby")); n != 0 {
		t.Errorf("lobby has %d members", n)
	}
	c.Close()
}

// TestOnOpenFails: OnOpen's error and panic close an events connection as
// they close a plain one.
func TestOnOpenFails(t *testing.T) {
	srv, closed := newServer(t)
	for _, tt := range []struct{ query, status string }{
		{"fail", "1011 handler error: open, close"},
		{"panic", "1011 handler panic: open, close"},
	} {
		for _, protos := range [][]string{{events.Subprotocol}, nil} {
			c, _, err := srv.DialOptions(t, "/room?"+tt.query, &websocket.DialOptions{Subprotocols: protos})
			if err != nil {
				t.Fatal(err)
			}
			c.ExpectClose(websocket.StatusInternalError)
			expectClosed(t, closed, tt.status)
		}
	}
}

// TestMessagesAfterFailure: once a method has closed the connection, the
// messages queued behind it do not run.
func TestMessagesAfterFailure(t *testing.T) {
	srv, closed := newServer(t)
	c := dial(t, srv, "/room")
	c.SendText(`{"event":"quit"}` + "")
	c.SendText(`{"event":"ask","id":1,"data":{"nonce":1}}`)
	c.ExpectClose(4000)
	if got := expectClosed(t, closed, "4000"); strings.Contains(got, "ask") {
		t.Errorf("a message queued after the close ran: %q", got)
	}
}

func TestSendErrors(t *testing.T) {
	got := make(chan string, 4)
	srv := wstest.NewServer(t, framework.NewBlueprint("", events.Route[Silent]("/s",
		events.On("try", func(h *Silent, ctx context.Context, c *framework.Conn, _ struct{}) error {
			got <- errText(events.Emit(ctx, c, "", nil))
			got <- errText(events.Emit(ctx, c, "x", func() {}))
			got <- errText(events.Request(ctx, c, "", nil, nil))
			got <- errText(events.Broadcast(ctx, c.Hub(), "r", "x", make(chan int)))
			return nil
		}))))
	c := dial(t, srv, "/s")
	c.SendText(`{"event":"try"}`)
	for _, want := range []string{
		"events: empty event name",
		`events: event "x": json: unsupported type: func()`,
		"events: Request: empty event name",
		`events: event "x": json: unsupported type: chan int`,
	} {
		select {
		case g := <-got:
			if g != want {
				t.Errorf("got %q, want %q", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the event did not run")
		}
	}
	c.Close()
}

// TestRequestAfterClose: Request on an ended connection is ErrClosed.
func TestRequestAfterClose(t *testing.T) {
	conns := make(chan *framework.Conn, 1)
	srv := wstest.NewServer(t, framework.NewBlueprint("", events.Route[Silent]("/s",
		events.On("me", func(h *Silent, ctx context.Context, c *framework.Conn, _ struct{}) error {
			conns <- c
			return nil
		}))))
	c := dial(t, srv, "/s")
	c.SendText(`{"event":"me"}`)
	fc := <-conns
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); fc.Connected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not end")
		}
	}
	if err := events.Request(context.Background(), fc, "x", nil, nil); !errors.Is(err, framework.ErrClosed) {
		t.Errorf("Request after close: %v", err)
	}
}

// TestFullQueueClose: with the queue full and the read loop waiting for
// room, a close from the server still ends the connection; the work
// queued runs, then OnClose.
func TestFullQueueClose(t *testing.T) {
	hold := make(chan struct{})
	held := make(chan *framework.Conn, 1)
	var ran atomic.Int64
	closed := make(chan int64, 1)
	srv := wstest.NewServer(t, framework.NewBlueprint("", events.RouteFunc("/q", func() *Hold { return &Hold{ran: &ran, closed: closed} },
		events.On("hold", func(h *Hold, ctx context.Context, c *framework.Conn, _ struct{}) error {
			held <- c
			<-hold
			return nil
		}),
		events.On("count", func(h *Hold, ctx context.Context, c *framework.Conn, _ struct{}) error {
			h.ran.Add(1)
			return nil
		}))))
	c := dial(t, srv, "/q")
	c.SendText(`{"event":"hold"}`)
	fc := <-held
	const queued = 40 // more than the queue holds: the read loop waits
	for range queued {
		c.SendText(`{"event":"count"}`)
	}
	// The close must meet the read loop waiting for room: until then the
	// loop may not have read a single "count" (the close then drops them
	// all, and the test failed 2 times in 100).
	for deadline := time.Now().Add(5 * time.Second); !readLoopWaitsForRoom(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the read loop did not wait for room in the queue")
		}
	}
	readDone := make(chan error, 1)
	go func() { // the client answers the close as it reads it
		for {
			if _, _, err := c.Conn().Read(context.Background()); err != nil {
				readDone <- err
				return
			}
		}
	}()
	closeDone := make(chan error, 1)
	go func() { closeDone <- fc.Close(4001, "enough") }()
	for deadline := time.Now().Add(5 * time.Second); fc.Connected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the close did not start")
		}
	}
	close(hold)
	select {
	case n := <-closed:
		if n == 0 || n > queued {
			t.Errorf("OnClose ran after %d queued events, want 1 to %d", n, queued)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose did not run")
	}
	if err := <-closeDone; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-readDone; websocket.CloseStatus(err) != 4001 {
		t.Errorf("the client read %v, want close 4001", err)
	}
}

// readLoopWaitsForRoom reports whether a read loop waits for room in its
// connection's queue (conn.waitSlot).
func readLoopWaitsForRoom() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "events.(*conn).waitSlot")
}

// Hold counts what ran before OnClose.
type Hold struct {
	ran    *atomic.Int64
	closed chan<- int64
}

func (h *Hold) OnClose(c *framework.Conn, st framework.CloseStatus) { h.closed <- h.ran.Load() }
