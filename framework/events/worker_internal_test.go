package events

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

type idle struct{}

func (*idle) Ping(ctx context.Context, c *framework.Conn, _ struct{}) (string, error) {
	return "pong", nil
}

// TestWorkerExitsWhenIdle: a connection keeps no worker goroutine, and no
// queue, while it has no work.
func TestWorkerExitsWhenIdle(t *testing.T) {
	srv := wstest.NewServer(t, framework.NewBlueprint("", Route[idle]("/i", Handle("ping", (*idle).Ping))))
	c, _, err := srv.DialOptions(t, "/i", &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c.SendText(`{"event":"ping","id":1}`)
		c.ExpectText(`{"reply":1,"data":"pong"}`)
	}
	var s *conn
	conns.Range(func(_, v any) bool { s = v.(*conn); return false })
	if s == nil {
		t.Fatal("no connection state")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		running, jobs := s.running, s.jobs
		s.mu.Unlock()
		if !running && jobs == nil && len(s.slots) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker still running (%v) or queue kept (%d jobs)", running, len(jobs))
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
}
