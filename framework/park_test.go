package framework_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// These tests cover connections parked before their first message, with
// no goroutine (park_linux.go): each way a parked connection resumes.

// dialParked dials path (a probe's) and waits until the server has parked
// the connection, on Linux.
func dialParked(t *testing.T, p *probe, addr, path string) (*rawConn, *framework.Conn) {
	t.Helper()
	c := dialRaw(t, addr, p.path(path))
	sc := p.waitOpen(t)
	if runtime.GOOS == "linux" {
		eventually(t, "the connection is parked", func() bool { return framework.Parked(sc) })
	}
	return c, sc
}

// TestPromptClientsNotParked: connections whose client sends its first
// message, or closes, soon after the upgrade are served without being
// parked (parking costs a handshake a fifth of its CPU); one that stays
// idle is parked. Not parallel: the count of parks is the process's.
func TestPromptClientsNotParked(t *testing.T) {
	srv := serve(t, quietOptions(framework.Options{}))
	p := newProbe(t)
	before := framework.ParksSoFar()
	for i := range 20 {
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		p.waitOpen(t)
		if i%2 == 0 {
			c.send(opText, []byte("hi"))
			c.expectMessage(opText, []byte("hi"))
		}
		c.closeNormally()
		p.waitClose(t)
	}
	if n := framework.ParksSoFar() - before; n != 0 {
		t.Fatalf("%d of 20 prompt connections were parked", n)
	}
	if runtime.GOOS == "linux" {
		dialParked(t, p, srv.Addr, "/probe") // an idle one is
		if framework.ParksSoFar() == before {
			t.Fatal("the idle connection was not counted as parked")
		}
	}
}

func TestParkedMessagesInOrder(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{}))
	p := newProbe(t)
	c, _ := dialParked(t, p, srv.Addr, "/probe")
	time.Sleep(20 * time.Millisecond)
	var b []byte
	for i := range 3 {
		b = append(b, encodeFrame(rawFrame{fin: true, op: opText, payload: fmt.Appendf(nil, "m%d", i)}, false)...)
	}
	c.write(b)
	for i := range 3 {
		c.expectMessage(opText, fmt.Appendf(nil, "m%d", i))
	}
	c.send(opText, []byte("m3"))
	c.expectMessage(opText, []byte("m3"))
	c.closeNormally()
	if st := p.waitClose(t); st.Cause != framework.CausePeer || st.Code != websocket.StatusNormalClosure {
		t.Fatalf("got %v, want a close by the peer with 1000", st)
	}
}

func TestParkedPeerEnds(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{}))
	t.Run("close frame", func(t *testing.T) {
		p := newProbe(t)
		c, _ := dialParked(t, p, srv.Addr, "/probe")
		c.send(opClose, closePayload(4001, "bye"))
		c.expectClose(4001)
		if st := p.waitClose(t); st.Cause != framework.CausePeer || st.Code != 4001 || st.Reason != "bye" {
			t.Fatalf("got %v, want a close by the peer with 4001 bye", st)
		}
	})
	t.Run("EOF", func(t *testing.T) {
		p := newProbe(t)
		c, _ := dialParked(t, p, srv.Addr, "/probe")
		_ = c.nc.Close()
		if st := p.waitClose(t); st.Cause != framework.CauseAbnormal {
			t.Fatalf("got %v, want an abnormal end", st)
		}
	})
	t.Run("reset", func(t *testing.T) {
		p := newProbe(t)
		c, _ := dialParked(t, p, srv.Addr, "/probe")
		_ = c.nc.(*net.TCPConn).SetLinger(0)
		_ = c.nc.Close()
		if st := p.waitClose(t); st.Cause != framework.CauseAbnormal {
			t.Fatalf("got %v, want an abnormal end", st)
		}
	})
}

func TestParkedServerCloses(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{}))
	t.Run("Conn.Close", func(t *testing.T) {
		p := newProbe(t)
		c, sc := dialParked(t, p, srv.Addr, "/probe")
		done := make(chan error, 1)
		go func() { done <- sc.Close(4003, "go") }()
		c.expectClose(4003) // answers, then waits for EOF
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := p.waitClose(t); st.Cause != framework.CauseClosed || st.Code != 4003 {
			t.Fatalf("got %v, want a close by the server with 4003", st)
		}
	})
	t.Run("write timeout", func(t *testing.T) {
		// The client reads nothing: a send from another goroutine times
		// out and aborts the parked connection.
		srv := serve(t, quietOptions(framework.Options{WriteTimeout: 200 * time.Millisecond}))
		p := newProbe(t)
		_, sc := dialParked(t, p, srv.Addr, "/probe")
		big := make([]byte, 1<<20)
		for i := 0; i < 256 && sc.SendBinary(context.Background(), big) == nil; i++ {
		}
		if st := p.waitClose(t); st.Cause != framework.CauseSlow {
			t.Fatalf("got %v, want a write timeout", st)
		}
	})
	t.Run("DisconnectRoom", func(t *testing.T) {
		p := newProbe(t)
		p.onOpen = func(ctx context.Context, c *framework.Conn) error { return c.Join("parked") }
		c, sc := dialParked(t, p, srv.Addr, "/probe")
		if err := sc.Hub().DisconnectRoom(context.Background(), "parked", 4004, "room closed"); err != nil {
			t.Fatal(err)
		}
		c.expectClose(4004)
		if st := p.waitClose(t); st.Code != 4004 {
			t.Fatalf("got %v, want 4004", st)
		}
	})
}

func TestParkedShutdown(t *testing.T) {
	t.Parallel()
	for _, cut := range []bool{false, true} {
		t.Run(fmt.Sprint("cut ", cut), func(t *testing.T) {
			srv := serve(t, quietOptions(framework.Options{}))
			p := newProbe(t)
			const n = 20
			clients := make([]*rawConn, n)
			for i := range clients {
				clients[i], _ = dialParked(t, p, srv.Addr, "/probe")
			}
			ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
			if cut {
				// The clients never answer: Shutdown's context ends, and
				// the connections are aborted.
				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			}
			defer cancel()
			var wg sync.WaitGroup
			if !cut {
				for _, c := range clients {
					wg.Go(func() { c.expectClose(websocket.StatusGoingAway) })
				}
			}
			err := srv.Shutdown(ctx)
			wg.Wait()
			if cut != (err != nil) {
				t.Fatalf("Shutdown: %v", err)
			}
			for range n {
				if st := p.waitClose(t); st.Cause != framework.CauseShutdown {
					t.Fatalf("got %v, want a shutdown", st)
				}
			}
		})
	}
}

func TestParkedIdleTimeout(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{ReadTimeout: 300 * time.Millisecond}))
	p := newProbe(t)
	start := time.Now()
	c, _ := dialParked(t, p, srv.Addr, "/probe")
	if reason := c.expectClose(websocket.StatusGoingAway); reason != "idle timeout" {
		t.Fatalf("got reason %q", reason)
	}
	if st := p.waitClose(t); st.Cause != framework.CauseIdle {
		t.Fatalf("got %v, want an idle timeout", st)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("closed after %v, before ReadTimeout", d)
	}
}

func TestParkedPing(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond}))
	t.Run("no pong", func(t *testing.T) {
		p := newProbe(t)
		c, _ := dialParked(t, p, srv.Addr, "/probe")
		if reason := c.expectClose(websocket.StatusGoingAway); reason != "pong timeout" {
			t.Fatalf("got reason %q", reason)
		}
		if st := p.waitClose(t); st.Cause != framework.CausePingTimeout {
			t.Fatalf("got %v, want a pong timeout", st)
		}
	})
	t.Run("pongs", func(t *testing.T) {
		p := newProbe(t)
		c, _ := dialParked(t, p, srv.Addr, "/probe")
		for range 3 {
			f, err := c.readFrame()
			if err != nil || f.op != opPing {
				t.Fatalf("got %v %v, want a ping", f.op, err)
			}
			c.send(opPong, f.payload)
		}
		c.send(opText, []byte("still here"))
		for {
			f, err := c.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.op == opText && string(f.payload) == "still here" {
				break
			}
			if f.op == opPing {
				c.send(opPong, f.payload)
			}
		}
		c.closeNormally()
		if st := p.waitClose(t); st.Cause != framework.CausePeer {
			t.Fatalf("got %v, want a close by the peer", st)
		}
	})
}

// TestParkedHoldsNoGoroutine parks connections and checks that they hold
// no goroutine; then they race to resume (a message from the client
// against a close from the server): each ends once.
func TestParkedHoldsNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections park on Linux only")
	}
	checkLeaks(t) // the poller's goroutine too ends
	srv := serve(t, quietOptions(framework.Options{}))
	p := newProbe(t)
	const n = 100
	before := runtime.NumGoroutine()
	clients := make([]*rawConn, n)
	conns := make([]*framework.Conn, n)
	for i := range clients {
		clients[i], conns[i] = dialParked(t, p, srv.Addr, "/probe")
	}
	if grew := runtime.NumGoroutine() - before; grew > n/2 {
		t.Fatalf("%d parked connections hold %d goroutines", n, grew)
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			clients[i].send(opText, []byte("x"))
			_ = clients[i].nc.Close() // it does not answer the close
		})
		wg.Go(func() { _ = conns[i].Close(4005, "") })
	}
	wg.Wait()
	for range n {
		p.waitClose(t)
	}
	select {
	case st := <-p.closed:
		t.Fatalf("an extra OnClose: %v", st)
	case <-time.After(50 * time.Millisecond):
	}
	if p.overlap.Load() {
		t.Fatal("two hooks of one connection ran at once")
	}
}

// TestParkedIdleDeadlines parks connections of two servers with different
// idle timeouts (the poller is shared), and resumes some with a message:
// each connection ends for its idle timeout, not before it.
func TestParkedIdleDeadlines(t *testing.T) {
	t.Parallel()
	timeouts := []time.Duration{400 * time.Millisecond, 200 * time.Millisecond}
	var wg sync.WaitGroup
	for _, rt := range timeouts {
		srv := serve(t, quietOptions(framework.Options{ReadTimeout: rt}))
		p := newProbe(t)
		type ended struct {
			at  time.Time
			st  framework.CloseStatus
			key *framework.Conn
		}
		ends := make(chan ended, 8)
		p.onClose = func(c *framework.Conn, st framework.CloseStatus) { ends <- ended{time.Now(), st, c} }
		opened := map[*framework.Conn]time.Time{}
		var clients []*rawConn
		for i := range 6 {
			start := time.Now() // before the server's idle clock starts
			c, sc := dialParked(t, p, srv.Addr, "/probe")
			clients = append(clients, c)
			opened[sc] = start
			if i%3 == 1 {
				opened[sc] = time.Now()
				c.send(opText, []byte("resume"))
				c.expectMessage(opText, []byte("resume"))
			}
		}
		wg.Go(func() {
			for range len(opened) {
				e := <-ends
				if e.st.Cause != framework.CauseIdle {
					t.Errorf("got %v, want an idle timeout", e.st)
				}
				if d := e.at.Sub(opened[e.key]); d < rt {
					t.Errorf("closed %v after its last message, before ReadTimeout %v", d, rt)
				}
			}
		})
		for _, c := range clients {
			wg.Go(func() { c.expectClose(websocket.StatusGoingAway) })
		}
	}
	wg.Wait()
}
