package framework_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// A client that writes a whole oversized message before it reads (as
// browsers and Node do) must read the server's 1009, not a reset: the
// server, which has stopped reading at the frame header, discards the rest
// of the frame before it closes the socket. Closing with the client's data
// unread sends a reset, which fails the client's writes (broken pipe);
// Linux still lets this raw client read the close frame afterwards, but a
// client that gives up on the failed write (Node) reports 1006.

const oversizeMessage = 16_000_000 // over the default 2 MiB limit, under the 64 MiB drain cap

// writePayload writes n payload bytes in chunks and returns how many went
// out before a write failed.
func writePayload(c *rawConn, n int64) (int64, error) {
	chunk := make([]byte, 64<<10)
	_ = c.nc.SetWriteDeadline(time.Now().Add(2 * rawTimeout))
	var sent int64
	for sent < n {
		k, err := c.nc.Write(chunk[:min(int64(len(chunk)), n-sent)])
		sent += int64(k)
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// echoes checks that the server still serves a new connection.
func echoes(t *testing.T, addr string) {
	t.Helper()
	c := dialRaw(t, addr, "/echo")
	c.send(opText, []byte("still serving"))
	c.expectMessage(opText, []byte("still serving"))
	c.closeNormally()
}

func TestOversizeFrameDrained(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{}) // MaxMessageBytes: 2 MiB
	p := newProbe(t)
	c := dialRaw(t, srv.Addr, p.path("/probe"))
	p.waitOpen(t)
	c.write(frameHeader(true, 0, opBinary, oversizeMessage, []byte{1, 2, 3, 4}))
	if sent, err := writePayload(c, oversizeMessage); err != nil {
		code, rerr := readCloseCode(c)
		t.Fatalf("writing the payload: %v after %d of %d bytes (the server reset the connection); then read close %d (%v)",
			err, sent, oversizeMessage, code, rerr)
	}
	if code, reason := c.readClose(); websocket.StatusCode(code) != websocket.StatusMessageTooBig {
		t.Fatalf("got close %d %q, want 1009", code, reason)
	}
	if st := p.waitClose(t); websocket.StatusCode(st.Code) != websocket.StatusMessageTooBig {
		t.Errorf("OnClose got %v, want 1009", st)
	}
	echoes(t, srv.Addr)
}

// The drain is bounded in bytes: a client that announces 1 TiB and keeps
// writing is cut once drainBytes (64 MiB) have been discarded, after it
// has been sent 1009.
func TestOversizeDrainBoundedBytes(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	c := dialRaw(t, srv.Addr, "/echo")
	c.write(frameHeader(true, 0, opBinary, 1<<40, []byte{1, 2, 3, 4}))
	type result struct {
		sent int64
		err  error
	}
	wrote := make(chan result, 1)
	go func() {
		sent, err := writePayload(c, 1<<30)
		wrote <- result{sent, err}
	}()
	code, err := readCloseCode(c)
	if err != nil || websocket.StatusCode(code) != websocket.StatusMessageTooBig {
		t.Errorf("got close %d (%v), want 1009", code, err)
	}
	r := <-wrote
	// 64 MiB discarded, plus what the socket buffers on both sides hold.
	const bound = 96 << 20
	t.Logf("the server took %d MiB before it cut the connection (%v)", r.sent>>20, r.err)
	if r.err == nil || r.sent > bound {
		t.Errorf("the client wrote %d bytes (%v), want a failed write before %d", r.sent, r.err, bound)
	}
	if ne := net.Error(nil); errors.As(r.err, &ne) && ne.Timeout() {
		t.Errorf("the server stopped reading but did not close: %v", r.err)
	}
	echoes(t, srv.Addr)
}

// drainingConn announces an oversized frame without sending its payload and
// reads the server's 1009: the server is then draining the frame.
func drainingConn(t *testing.T, srv string, p *probe) *rawConn {
	t.Helper()
	c := dialRaw(t, srv, p.path("/probe"))
	p.waitOpen(t)
	c.write(frameHeader(true, 0, opBinary, oversizeMessage, []byte{1, 2, 3, 4}))
	f, err := c.readFrame()
	if err != nil || f.op != opClose {
		t.Fatalf("got frame op %d (%v), want the close frame", f.op, err)
	}
	if code, _ := parseClose(f.payload); websocket.StatusCode(code) != websocket.StatusMessageTooBig {
		t.Fatalf("got close %d, want 1009", code)
	}
	return c
}

// The drain is bounded in time: Shutdown, which waits for connections to
// end, returns once it has given up on a client that stopped sending in the
// middle of the frame.
func TestOversizeDrainBoundedTime(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	_ = drainingConn(t, srv.Addr, p) // sends nothing more and never hangs up
	start := time.Now()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The drain lasts at most 5 s.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Shutdown took %v, want the drain to give up within 5s", d)
	}
	select {
	case st := <-p.closed:
		if websocket.StatusCode(st.Code) != websocket.StatusMessageTooBig {
			t.Errorf("OnClose got %v, want 1009", st)
		}
	default:
		t.Errorf("OnClose did not run before Shutdown returned")
	}
}

// An abort cuts a drain short: Shutdown's context expires and it returns
// at once, without waiting for the drain's 5 s.
func TestOversizeDrainCutByShutdown(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	_ = drainingConn(t, srv.Addr, p)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v, its context expired at 300ms", d)
	}
	if st := p.waitClose(t); websocket.StatusCode(st.Code) != websocket.StatusMessageTooBig {
		t.Errorf("OnClose got %v, want 1009", st)
	}
}
