package framework_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// This file holds the fault tests of docs/reliability.md: clients that die
// at every step, hooks that panic or block, and Shutdown under load. Each
// checks that every OnClose runs exactly once with the right code and that
// no goroutine or file descriptor is left. They are not parallel, because
// the leak checks look at the whole process.

// kill ends a client connection: with a reset (RST) when rst is set, else
// with a FIN.
func kill(nc net.Conn, rst bool) {
	if tcp, ok := nc.(*net.TCPConn); ok && rst {
		_ = tcp.SetLinger(0)
	}
	_ = nc.Close()
}

func TestFaultClientKilled(t *testing.T) {
	checkLeaks(t)
	f := newFaults(t)
	srv := serve(t, quietOptions(framework.Options{}), faultBP)
	abnormal := []framework.CloseStatus{{Code: websocket.StatusAbnormalClosure, Cause: framework.CauseAbnormal}}
	big := strings.Repeat("x", 32<<20) // more than the socket buffers hold
	var delivered sync.Map             // every message a hook received
	f.message = func(ctx context.Context, c *framework.Conn, text string) error {
		delivered.Store(text, true)
		switch text {
		case "close":
			return c.Close(4000, "bye")
		case "big":
			return c.SendText(ctx, big)
		}
		return c.SendText(ctx, text)
	}
	testCases := []struct {
		name string
		run  func(t *testing.T, c *rawConn)
		want []framework.CloseStatus // any of these; nil: no OnOpen
	}{
		{"mid-message, reset", func(t *testing.T, c *rawConn) {
			c.write(append(frameHeader(true, 0, opText, 1000, []byte{1, 2, 3, 4}), "partial"...))
			kill(c.nc, true)
		}, abnormal},
		{"mid-payload, FIN", func(t *testing.T, c *rawConn) {
			c.write(append(frameHeader(true, 0, opText, 1000, []byte{0, 0, 0, 0}), "cut short"...))
			kill(c.nc, false)
		}, abnormal},
		{"between fragments, FIN", func(t *testing.T, c *rawConn) {
			c.write(append(frameHeader(false, 0, opText, 9, []byte{0, 0, 0, 0}), "first one"...))
			kill(c.nc, false)
		}, abnormal},
		{"mid-frame header", func(t *testing.T, c *rawConn) {
			c.write(frameHeader(true, 0, opText, 1<<16, nil)[:3])
			kill(c.nc, true)
		}, abnormal},
		{"while the server writes", func(t *testing.T, c *rawConn) {
			c.send(opText, []byte("big"))
			if _, err := io.ReadFull(c.br, make([]byte, 64<<10)); err != nil { // the answer has begun
				t.Fatal(err)
			}
			kill(c.nc, true)
		}, abnormal},
		{"mid-close, client closes and leaves", func(t *testing.T, c *rawConn) {
			c.send(opClose, closePayload(1000, "leaving"))
			kill(c.nc, false)
		}, []framework.CloseStatus{{Code: 1000, Reason: "leaving", Cause: framework.CausePeer}}},
		{"mid-close, client closes and resets", func(t *testing.T, c *rawConn) {
			c.send(opClose, closePayload(1000, "leaving"))
			kill(c.nc, true)
		}, []framework.CloseStatus{{Code: 1000, Reason: "leaving", Cause: framework.CausePeer}, abnormal[0]}},
		{"mid-close, server closes and the client resets", func(t *testing.T, c *rawConn) {
			c.send(opText, []byte("close"))
			if code, err := readCloseCode(c); err != nil || code != 4000 {
				t.Fatalf("got close %v, %v, want 4000", code, err)
			}
			kill(c.nc, true) // without answering the close
		}, []framework.CloseStatus{{Code: 4000, Reason: "bye", Cause: framework.CauseClosed}}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, srv.Addr, f.path())
			f.waitOpen(t)
			tc.run(t, c)
			st := f.waitClose(t)
			for _, want := range tc.want {
				if st.Code == want.Code && st.Cause == want.Cause && st.Reason == want.Reason {
					return
				}
			}
			t.Fatalf("OnClose got %v (err %v), want one of %v", st, st.Err, tc.want)
		})
	}
	for _, cut := range []string{"cut short", "first one"} {
		if _, ok := delivered.Load(cut); ok {
			t.Errorf("the hook received %q, a message cut short, as if complete", cut)
		}
	}

	// Killed during the handshake: nothing opens, nothing is left.
	for _, cut := range []int{1, 40, -1} {
		t.Run(fmt.Sprintf("mid-handshake after %d bytes", cut), func(t *testing.T) {
			req := upgradeRequest(srv.Addr, f.path())
			if cut < 0 {
				cut = len(req) // the whole request, gone before the answer
			}
			nc, err := net.DialTimeout("tcp", srv.Addr, rawTimeout)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(nc, req[:cut])
			kill(nc, true)
		})
	}
	// A handshake killed after the whole request may have been upgraded:
	// then its OnClose must still run, once.
	eventually(t, "every opened connection closed", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.closes) == f.opens
	})
	f.checkClosedOnce(t)
}

// hookNames lists the hooks a test can make misbehave.
var hookNames = []string{"handshake", "open", "message", "binary", "close"}

// misbehave makes the named hook of f run bad for the connections whose
// query has bad=1, and leaves it well-behaved for the others.
func misbehave(f *faults, hook string, bad func()) {
	isBad := func(c *framework.Conn) bool { return c.Request().URL.Query().Get("bad") != "" }
	switch hook {
	case "handshake":
		f.handshake = func(r *http.Request) error {
			if r.URL.Query().Get("bad") != "" {
				bad()
			}
			return nil
		}
	case "open":
		f.open = func(ctx context.Context, c *framework.Conn) error {
			if isBad(c) {
				bad()
			}
			return nil
		}
	case "message":
		f.message = func(ctx context.Context, c *framework.Conn, text string) error {
			if isBad(c) {
				bad()
			}
			return c.SendText(ctx, text)
		}
	case "binary":
		f.binary = func(ctx context.Context, c *framework.Conn, data []byte) error {
			if isBad(c) {
				bad()
			}
			return c.SendBinary(ctx, data)
		}
	case "close":
		f.onClose = func(c *framework.Conn, st framework.CloseStatus) {
			if isBad(c) {
				bad()
			}
		}
	}
}

// trigger makes the bad connection's hook run: it dials (for handshake and
// open, in the background since the handshake may block) and sends what
// the hook needs. It returns the connection once it is open, or nil.
func trigger(t *testing.T, addr, path, hook string) (*rawConn, <-chan *http.Response) {
	t.Helper()
	if hook == "handshake" {
		resp := make(chan *http.Response, 1)
		nc, err := net.DialTimeout("tcp", addr, rawTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		_, _ = io.WriteString(nc, upgradeRequest(addr, path))
		go func() {
			_ = nc.SetReadDeadline(time.Now().Add(4 * rawTimeout))
			r, err := http.ReadResponse(bufioReader(nc), nil)
			if err != nil {
				r = nil
			}
			resp <- r
		}()
		return nil, resp
	}
	c := dialRaw(t, addr, path)
	switch hook {
	case "message":
		c.send(opText, []byte("trigger"))
	case "binary":
		c.send(opBinary, []byte("trigger"))
	case "close":
		c.send(opClose, closePayload(1000, ""))
		c.expectEOF() // the echo, then close our side: the server lingers for it
	}
	return c, nil
}

// Each hook in turn panics: the connection closes with 1011 and no reason
// (a panic in OnHandshake answers 500), OnClose runs once, and the server
// keeps serving the others.
func TestFaultHookPanics(t *testing.T) {
	checkLeaks(t)
	for _, hook := range hookNames {
		t.Run(hook, func(t *testing.T) {
			f := newFaults(t)
			misbehave(f, hook, func() { panic("secret panic detail in " + hook) })
			logs := &logBuffer{}
			srv := serve(t, framework.Options{Logger: logs.logger()}, faultBP)
			c, resp := trigger(t, srv.Addr, f.path("bad=1"), hook)
			switch hook {
			case "handshake":
				if r := <-resp; r == nil || r.StatusCode != http.StatusInternalServerError {
					t.Fatalf("got response %v, want 500", r)
				}
			case "close":
				f.waitOpen(t)
				c.expectEOF()
				if st := f.waitClose(t); st.Code != 1000 || st.Cause != framework.CausePeer {
					t.Fatalf("OnClose got %v, want 1000 (peer closed)", st)
				}
			default:
				f.waitOpen(t)
				if reason := c.expectClose(websocket.StatusInternalError); reason != "" {
					t.Errorf("got close reason %q, want none", reason)
				}
				if st := f.waitClose(t); st.Code != websocket.StatusInternalError || st.Cause != framework.CauseHandlerPanic {
					t.Fatalf("OnClose got %v, want 1011 (handler panic)", st)
				}
			}
			// The server keeps serving.
			other := dialRaw(t, srv.Addr, f.path())
			f.waitOpen(t)
			other.send(opText, []byte("still here"))
			other.expectMessage(opText, []byte("still here"))
			other.closeNormally()
			f.waitClose(t)
			eventually(t, "the panic logged", func() bool {
				return strings.Contains(logs.String(), "secret panic detail in "+hook)
			})
			f.checkClosedOnce(t)
		})
	}
}

// Each hook in turn blocks, ignoring its context: the other connections
// are served meanwhile, and once the hook returns, its connection ends
// normally with one OnClose.
func TestFaultHookBlocks(t *testing.T) {
	checkLeaks(t)
	for _, hook := range hookNames {
		t.Run(hook, func(t *testing.T) {
			f := newFaults(t)
			entered := make(chan struct{}, 1)
			release := make(chan struct{})
			misbehave(f, hook, func() {
				entered <- struct{}{}
				<-release
			})
			srv := serve(t, quietOptions(framework.Options{}), faultBP)
			c, resp := trigger(t, srv.Addr, f.path("bad=1"), hook)
			select {
			case <-entered:
			case <-time.After(rawTimeout):
				t.Fatalf("the %s hook did not run", hook)
			}
			if hook != "handshake" {
				f.waitOpen(t)
			}
			for i := range 3 {
				other := dialRaw(t, srv.Addr, f.path())
				f.waitOpen(t)
				msg := []byte(fmt.Sprintf("while %s blocks %d", hook, i))
				other.send(opText, msg)
				other.expectMessage(opText, msg)
				other.closeNormally()
				if st := f.waitClose(t); st.Cause != framework.CausePeer {
					t.Fatalf("OnClose got %v, want peer closed", st)
				}
			}
			close(release)
			switch hook {
			case "handshake":
				if r := <-resp; r == nil || r.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("got response %v, want 101 once the hook returned", r)
				}
				f.waitOpen(t)
				// The connection's socket is closed by the test's cleanup.
			case "close":
				c.expectEOF()
				f.waitClose(t)
			default:
				if hook == "message" {
					c.expectMessage(opText, []byte("trigger"))
				}
				if hook == "binary" {
					c.expectMessage(opBinary, []byte("trigger"))
				}
				c.closeNormally()
				if st := f.waitClose(t); st.Code != 1000 {
					t.Fatalf("OnClose got %v, want 1000", st)
				}
			}
		})
	}
}

// Shutdown while a hook blocks: a hook that waits on its context is woken
// as soon as its connection has closed, so Shutdown completes gracefully;
// a hook that ignores its context cannot be stopped, so Shutdown returns
// one second after its own context ends, and that connection's OnClose
// runs when the hook finally returns.
func TestFaultShutdownBlockedHook(t *testing.T) {
	checkLeaks(t)
	for _, hook := range []string{"open", "message", "binary"} {
		t.Run(hook+" waits on ctx", func(t *testing.T) {
			f := newFaults(t)
			entered := make(chan struct{}, 1)
			wait := func(ctx context.Context) error {
				entered <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			}
			f.open = func(ctx context.Context, c *framework.Conn) error {
				if hook == "open" {
					return wait(ctx)
				}
				return nil
			}
			f.message = func(ctx context.Context, c *framework.Conn, text string) error { return wait(ctx) }
			f.binary = func(ctx context.Context, c *framework.Conn, data []byte) error { return wait(ctx) }
			srv := serve(t, quietOptions(framework.Options{}), faultBP)
			c, _ := trigger(t, srv.Addr, f.path(), hook)
			<-entered
			ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(ctx) }()
			c.expectClose(websocket.StatusGoingAway)
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: got %v, want nil", err)
			}
			if st := f.waitClose(t); st.Code != websocket.StatusGoingAway || st.Cause != framework.CauseShutdown {
				t.Fatalf("OnClose got %v, want 1001 (server shutdown)", st)
			}
			f.checkClosedOnce(t)
		})
		t.Run(hook+" ignores ctx", func(t *testing.T) {
			f := newFaults(t)
			entered := make(chan struct{}, 1)
			release := make(chan struct{})
			misbehave(f, hook, func() {
				entered <- struct{}{}
				<-release
			})
			logs := &logBuffer{}
			srv := serve(t, framework.Options{Logger: logs.logger()}, faultBP)
			trigger(t, srv.Addr, f.path("bad=1"), hook)
			<-entered
			const grace = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			start := time.Now()
			err := srv.Shutdown(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown: got %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > grace+3*time.Second {
				t.Fatalf("Shutdown took %v with a context of %v", d, grace)
			}
			if !strings.Contains(logs.String(), "stuck in a hook") {
				t.Errorf("Shutdown did not log the stuck connection")
			}
			select {
			case st := <-f.closed:
				t.Fatalf("OnClose ran (%v) while the hook still ran", st)
			default:
			}
			close(release)
			if st := f.waitClose(t); st.Cause != framework.CauseShutdown {
				t.Fatalf("OnClose got %v, want cause server shutdown", st)
			}
			f.checkClosedOnce(t)
		})
	}
}

// Shutdown while hundreds of clients send as fast as they can: Shutdown
// returns in time, every client ends with 1001, every OnClose runs once
// with 1001, and every echo a client received was a message it sent.
func TestFaultShutdownUnderLoad(t *testing.T) {
	checkLeaks(t)
	const clients = 200
	f := newFaults(t)
	srv := serve(t, quietOptions(framework.Options{}), faultBP)
	ctx, cancel := context.WithTimeout(context.Background(), 4*rawTimeout)
	defer cancel()
	type result struct {
		sent, received int
		code           websocket.StatusCode
		err            error
	}
	results := make(chan result, clients)
	var echoes atomic.Int64
	var wg sync.WaitGroup
	wss := make([]*websocket.Conn, clients)
	for i := range wss {
		ws, _, err := websocket.Dial(ctx, "ws://"+srv.Addr+f.path(), nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		f.waitOpen(t)
		wss[i] = ws
	}
	for _, ws := range wss {
		wg.Go(func() {
			defer ws.CloseNow()
			var r result
			payload := make([]byte, 8)
			for {
				binary.BigEndian.PutUint64(payload, uint64(r.sent))
				if err := ws.Write(ctx, websocket.MessageBinary, payload); err != nil {
					r.code, r.err = websocket.CloseStatus(err), err
					break
				}
				r.sent++
				_, got, err := ws.Read(ctx)
				if err != nil {
					r.code, r.err = websocket.CloseStatus(err), err
					break
				}
				if len(got) != 8 || binary.BigEndian.Uint64(got) != uint64(r.received) {
					r.err = fmt.Errorf("echo %d: got %x", r.received, got)
					break
				}
				r.received++
				echoes.Add(1)
			}
			results <- r
		})
	}
	// Let the load get going: a few rounds per client.
	eventually(t, "load running", func() bool { return echoes.Load() >= 3*clients })
	sctx, scancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer scancel()
	start := time.Now()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	took := time.Since(start)
	wg.Wait()
	close(results)
	total := 0
	for r := range results {
		total += r.received
		// A client mid-write may see the connection end before the close
		// frame; one that read it got 1001.
		if r.code != -1 && r.code != websocket.StatusGoingAway {
			t.Errorf("a client ended with %v (%v), want 1001", r.code, r.err)
		}
		if r.sent-r.received > 1 {
			t.Errorf("a client sent %d and got %d echoes: more than the last one lost", r.sent, r.received)
		}
	}
	for range clients {
		if st := f.waitClose(t); st.Code != websocket.StatusGoingAway || st.Cause != framework.CauseShutdown {
			t.Errorf("OnClose got %v, want 1001 (server shutdown)", st)
		}
	}
	f.checkClosedOnce(t)
	t.Logf("Shutdown of %d busy connections (%d echoes) took %v", clients, total, took.Round(time.Millisecond))
}
