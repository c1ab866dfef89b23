package framework_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []framework.Event
}

func (r *recorder) Observe(e framework.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// lines returns the events of the given kinds as comparable strings.
func (r *recorder) lines(kinds ...framework.EventKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if !slices.Contains(kinds, e.Kind) {
			continue
		}
		switch e.Kind {
		case framework.EventHandshake:
			out = append(out, fmt.Sprintf("handshake %s %d", e.Route, e.Status))
		case framework.EventOpen:
			out = append(out, "open "+e.Route)
		case framework.EventClose:
			out = append(out, fmt.Sprintf("close %s %d %v", e.Route, e.Code, e.Cause))
		case framework.EventReceived, framework.EventSent:
			dir := map[framework.EventKind]string{framework.EventReceived: "in", framework.EventSent: "out"}[e.Kind]
			out = append(out, fmt.Sprintf("%s %s %v %d", dir, e.Route, e.Type, e.Bytes))
		case framework.EventHook:
			out = append(out, fmt.Sprintf("hook %s %s", e.Route, e.Hook))
		}
	}
	return out
}

// A scripted session over real sockets, and what the observer saw: two
// routes, text and binary, a 404 handshake, a message over the limit
// closed with 1009, and a clean close.
func TestObserverSession(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, framework.Options{Observer: rec, MaxMessageBytes: 1000})
	ctx := context.Background()

	c := srv.Dial(t, "/echo")
	ws := c.Conn()
	for _, m := range []struct {
		typ  websocket.MessageType
		data string
	}{{websocket.MessageText, "hello"}, {websocket.MessageBinary, "\x00\x01\x02"}} {
		if err := ws.Write(ctx, m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.Read(ctx); err != nil || string(got) != m.data {
			t.Fatalf("echo: %q, %v", got, err)
		}
	}
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + strings.TrimPrefix(srv.URL("/nowhere"), "ws://")) // not an upgrade: not a handshake
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, resp, err = srv.DialOptions(t, "/nowhere", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial /nowhere: %v, %v; want a 404", resp, err)
	}

	big := srv.Dial(t, "/text")
	_ = big.Conn().Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 2000)))
	if _, _, err := big.Conn().Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: got %v, want 1009", err)
	}

	want := []string{
		"handshake /echo 101", "open /echo",
		// A hook is observed when it returns, after the echo it sent.
		"in /echo MessageText 5", "out /echo MessageText 5", "hook /echo OnMessage",
		"in /echo MessageBinary 3", "out /echo MessageBinary 3", "hook /echo OnBinary",
		"close /echo 1000 peer closed",
		"handshake  404",
		"handshake /text 101", "open /text",
		"close /text 1009 message too big",
	}
	kinds := []framework.EventKind{framework.EventHandshake, framework.EventOpen, framework.EventClose,
		framework.EventReceived, framework.EventSent, framework.EventHook}
	eventually(t, "both closes observed", func() bool { return len(rec.lines(framework.EventClose)) == 2 })
	// Each connection's events come in order; the two connections'
	// closes may come in either order.
	got := rec.lines(kinds...)
	for _, route := range []string{" /echo ", " /text ", "  "} {
		if g, w := having(got, route), having(want, route); !slices.Equal(g, w) {
			t.Errorf("events of %q:\n  got  %q\n  want %q", route, g, w)
		}
	}
}

// having returns the lines that contain s.
func having(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l+" ", s) {
			out = append(out, l)
		}
	}
	return out
}

// A member that stops reading, with QueueBlock: the broadcasts that wait
// for room are observed as EventBlocked, those dropped at the overflow
// close as EventDropped, both on the member's route.
func TestObserverBlockedAndDropped(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	rec := &recorder{}
	n1, n2 := blockNodesObserved(t, timeout, rec)
	dialSlow(t, n2.URL("/rooms/A?user=slow"))
	waitMember(t, n1.Hub(), "A", "slow")
	overflowSlow(t, n1.Hub(), "A", localConn(t, n2.Hub(), "A", "slow"), timeout)
	eventually(t, "a blocked and a dropped broadcast observed", func() bool {
		var blocked, dropped bool
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, e := range rec.events {
			blocked = blocked || e.Kind == framework.EventBlocked && e.Route == "/rooms/{room:str}"
			dropped = dropped || e.Kind == framework.EventDropped && e.Route == "/rooms/{room:str}" && e.Count > 0
		}
		return blocked && dropped
	})
}
