package brokertest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Timeout bounds every wait of a Peer.
const Timeout = 5 * time.Second

// Peer is a WebSocket client whose messages are read by a goroutine of its
// own into a channel, so that a test can wait for a message with a
// deadline, or check that none came, without closing the connection (a
// coder/websocket read that times out closes it).
type Peer struct {
	t    testing.TB
	ws   *websocket.Conn
	msgs chan string
	// ID is the server-side connection ID, from the "joined" greeting.
	ID string

	mu  sync.Mutex
	err error // why the reader stopped
}

// Dial connects to url (ws://...), reads the "joined <id>" greeting and
// starts the reader. t.Cleanup closes the connection and waits for the
// reader.
func Dial(t testing.TB, url string) *Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("brokertest: dial %s: %v", url, err)
	}
	ws.SetReadLimit(-1)
	p := &Peer{t: t, ws: ws, msgs: make(chan string, 1<<16)}
	done := make(chan struct{})
	go p.read(done)
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-done
	})
	greeting := p.Next()
	if len(greeting) < len("joined ") || greeting[:len("joined ")] != "joined " {
		t.Fatalf("brokertest: got greeting %q, want \"joined <id>\"", greeting)
	}
	p.ID = greeting[len("joined "):]
	return p
}

func (p *Peer) read(done chan struct{}) {
	defer close(done)
	defer close(p.msgs)
	for {
		_, b, err := p.ws.Read(context.Background())
		if err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		p.msgs <- string(b)
	}
}

// Send sends a text message (a RoomHandler command).
func (p *Peer) Send(text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		p.t.Fatalf("brokertest: send %q: %v", text, err)
	}
}

// Next returns the next message, failing the test after Timeout.
func (p *Peer) Next() string {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatalf("brokertest: connection ended while waiting for a message: %v", p.Err())
		}
		return m
	case <-time.After(Timeout):
		p.t.Fatalf("brokertest: no message within %v", Timeout)
		return ""
	}
}

// Expect fails the test unless the next messages are want, in order.
func (p *Peer) Expect(want ...string) {
	p.t.Helper()
	for _, w := range want {
		if got := p.Next(); got != w {
			p.t.Fatalf("brokertest: got %q, want %q", got, w)
		}
	}
}

// Poll returns the next message if one arrives within d.
func (p *Peer) Poll(d time.Duration) (string, bool) {
	select {
	case m, ok := <-p.msgs:
		return m, ok
	case <-time.After(d):
		return "", false
	}
}

// ExpectClose reads until the connection ends and fails the test unless
// the server closed it with code.
func (p *Peer) ExpectClose(code websocket.StatusCode) {
	p.t.Helper()
	deadline := time.After(Timeout)
	for {
		select {
		case _, ok := <-p.msgs:
			if ok {
				continue
			}
			var ce websocket.CloseError
			if err := p.Err(); !errors.As(err, &ce) || websocket.StatusCode(ce.Code) != code {
				p.t.Fatalf("brokertest: connection ended with %v, want close %v", err, code)
			}
			return
		case <-deadline:
			p.t.Fatalf("brokertest: not closed within %v", Timeout)
		}
	}
}

// Err returns why the reader stopped, or nil while it runs.
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close closes the connection normally.
func (p *Peer) Close() { _ = p.ws.Close(websocket.StatusNormalClosure, "") }
