package framework_test

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

func TestMaxMessageBytes(t *testing.T) {
	t.Parallel()
	const small = 1000
	srvSmall := serve(t, framework.Options{MaxMessageBytes: small})
	srvDefault := serve(t, framework.Options{})
	const def = 2 << 20
	testCases := []struct {
		name  string
		srv   string
		op    byte
		parts []int // fragment sizes
		want  websocket.StatusCode
	}{
		{"text exactly the limit", srvSmall.Addr, opText, []int{small}, 0},
		{"binary exactly the limit", srvSmall.Addr, opBinary, []int{small}, 0},
		{"text one byte over", srvSmall.Addr, opText, []int{small + 1}, 1009},
		{"binary one byte over", srvSmall.Addr, opBinary, []int{small + 1}, 1009},
		{"fragments exactly the limit", srvSmall.Addr, opBinary, []int{300, 300, 0, 400}, 0},
		{"fragments one byte over", srvSmall.Addr, opBinary, []int{300, 300, 0, 401}, 1009},
		{"many small fragments over", srvSmall.Addr, opText, repeatInt(10, 101), 1009},
		{"default limit exactly (2 MiB)", srvDefault.Addr, opBinary, []int{def}, 0},
		{"default limit text exactly, fragmented", srvDefault.Addr, opText, []int{def / 2, def / 4, def / 4}, 0},
		{"default limit one byte over", srvDefault.Addr, opBinary, []int{def + 1}, 1009},
		{"default limit fragments one byte over", srvDefault.Addr, opText, []int{def / 2, def / 2, 1}, 1009},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, tc.srv, "/echo")
			var msg, out []byte
			for i, n := range tc.parts {
				part := bytes.Repeat([]byte{byte('a' + i%26)}, n)
				msg = append(msg, part...)
				op := opCont
				if i == 0 {
					op = tc.op
				}
				out = append(out, encodeFrame(rawFrame{fin: i == len(tc.parts)-1, op: op, payload: part}, false)...)
			}
			// Write while reading: the server may close before taking it all.
			werr := make(chan error, 1)
			go func() {
				_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
				_, err := c.nc.Write(out)
				werr <- err
			}()
			if tc.want == 0 {
				c.expectMessage(tc.op, msg)
				if err := <-werr; err != nil {
					t.Fatalf("write: %v", err)
				}
				c.closeNormally()
				return
			}
			c.expectClose(tc.want)
			<-werr
		})
	}
}

func repeatInt(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// A frame header that announces more than the limit closes the connection
// with 1009 at once: the client receives the close frame without sending
// any payload.
func TestMaxMessageBytesHeaderOnly(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{MaxMessageBytes: 1 << 10})
	srvDefault := serve(t, framework.Options{})
	testCases := []struct {
		name   string
		addr   string
		header []byte
	}{
		{"16-bit length", srv.Addr, frameHeader(true, 0, opBinary, 1<<10+1, []byte{1, 2, 3, 4})},
		{"64-bit length", srv.Addr, frameHeader(true, 0, opText, 1<<40, []byte{1, 2, 3, 4})},
		{"64-bit length with the top bit", srv.Addr, frameHeader(true, 0, opText, -1, []byte{1, 2, 3, 4})},
		{"default limit", srvDefault.Addr, frameHeader(true, 0, opBinary, (2<<20)+1, []byte{1, 2, 3, 4})},
		{"continuation over the limit", srv.Addr, append(fr(false, opBinary, strings.Repeat("x", 1000)),
			frameHeader(true, 0, opCont, 1<<10-999, []byte{1, 2, 3, 4})...)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, tc.addr, "/echo")
			start := time.Now()
			c.write(tc.header)
			c.expectClose(1009)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("close took %v, want at once", d)
			}
		})
	}
}

// The client sends a big oversized message without reading, then reads: it
// must see the close frame, not a reset.
func TestMaxMessageBytesCloseSurvivesQueuedData(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{MaxMessageBytes: 1000})
	for _, size := range []int{64 << 10, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, "/echo")
			msg := encodeFrame(rawFrame{fin: true, op: opBinary, payload: bytes.Repeat([]byte("z"), size)}, false)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
				_, _ = c.nc.Write(msg) // may fail once the server has closed
			}()
			<-done // everything the server would take is queued before reading
			c.expectClose(1009)
		})
	}
}

// deflate compresses b as permessage-deflate does (without the trailing
// 00 00 ff ff of the sync flush).
func deflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflate decompresses the payload of a compressed message.
func inflate(t *testing.T, payload []byte) []byte {
	t.Helper()
	b, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompression(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	srv := serve(t, framework.Options{Compression: true, MaxMessageBytes: limit})
	ext := "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover"

	t.Run("coder client round-trips", func(t *testing.T) {
		t.Parallel()
		c, resp, err := srv.DialOptions(t, "/echo", &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(got, "permessage-deflate") {
			t.Fatalf("got Sec-WebSocket-Extensions %q, want permessage-deflate", got)
		}
		for _, n := range []int{10, 4096, limit} {
			msg := strings.Repeat(fmt.Sprintf("compress me %d ", n), n/16+1)[:n]
			c.SendText(msg)
			c.ExpectText(msg)
		}
		c.Close()
	})
	t.Run("raw compressed frame", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, srv.Addr, "/echo", ext)
		if got := c.resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(got, "permessage-deflate") {
			t.Fatalf("got Sec-WebSocket-Extensions %q, want permessage-deflate", got)
		}
		msg := []byte(strings.Repeat("hello deflate ", 100))
		c.writeFrames(rawFrame{fin: true, rsv: 0x40, op: opText, payload: deflate(t, msg)})
		f, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		// coder, not nows, writes the data frames of a connection that
		// compresses (frames.go): the echo comes back compressed.
		if f.rsv&0x40 == 0 {
			t.Fatalf("the echo of %d bytes came back uncompressed", len(msg))
		}
		if got := inflate(t, f.payload); !bytes.Equal(got, msg) {
			t.Fatalf("got %s, want the message back", clip(got))
		}
		c.closeNormally()
	})
	t.Run("broadcast", func(t *testing.T) {
		t.Parallel()
		p := newProbe(t)
		joinOnOpen(p)
		c := dialRaw(t, srv.Addr, p.path("/probe"), ext)
		p.waitJoined(t)
		ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
		defer cancel()
		msgs := []string{strings.Repeat("broadcast me ", 200), "short", strings.Repeat("and me ", 300)}
		for _, m := range msgs {
			if err := srv.Hub().Broadcast(ctx, batchRoom, framework.Text(m)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range msgs {
			f, err := c.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			got := f.payload
			if f.rsv&0x40 != 0 {
				got = inflate(t, f.payload)
			} else if len(m) > 1000 {
				t.Fatalf("a broadcast of %d bytes came uncompressed", len(m))
			}
			if string(got) != m {
				t.Fatalf("got %s, want the broadcast", clip(got))
			}
		}
		c.closeNormally()
	})
	t.Run("deflate bomb", func(t *testing.T) {
		t.Parallel()
		for _, size := range []int{limit + 1, 8 << 20} {
			c := dialRaw(t, srv.Addr, "/echo", ext)
			bomb := deflate(t, make([]byte, size))
			if len(bomb) > 100<<10 {
				t.Fatalf("bomb of %d bytes is not small", len(bomb))
			}
			c.writeFrames(rawFrame{fin: true, rsv: 0x40, op: opBinary, payload: bomb})
			c.expectClose(1009)
		}
	})
	t.Run("compressed exactly the limit", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, srv.Addr, "/echo", ext)
		c.writeFrames(rawFrame{fin: true, rsv: 0x40, op: opBinary, payload: deflate(t, make([]byte, limit))})
		f, err := c.readFrame()
		if err != nil || f.op != opBinary {
			t.Fatalf("got frame op %d, %v, want the echo", f.op, err)
		}
		c.expectMessageRest(f)
		c.closeNormally()
	})
}

// expectMessageRest skips the rest of a message whose first frame is f.
func (c *rawConn) expectMessageRest(f rawFrame) {
	c.t.Helper()
	for !f.fin {
		var err error
		if f, err = c.readFrame(); err != nil {
			c.t.Fatal(err)
		}
	}
}

func TestReadTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	srv := serve(t, framework.Options{ReadTimeout: timeout})

	t.Run("idle client closed with 1001", func(t *testing.T) {
		t.Parallel()
		p := newProbe(t)
		start := time.Now()
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		c.expectClose(websocket.StatusGoingAway)
		if d := time.Since(start); d < timeout {
			t.Fatalf("closed after %v, before ReadTimeout %v", d, timeout)
		}
		if st := p.waitClose(t); st.Code != websocket.StatusGoingAway || st.Cause != framework.CauseIdle {
			t.Fatalf("OnClose got %v, want 1001 (idle timeout)", st)
		}
	})
	t.Run("idle after messages", func(t *testing.T) {
		t.Parallel()
		p := newProbe(t)
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		c.send(opText, []byte("one"))
		c.expectMessage(opText, []byte("one"))
		c.expectClose(websocket.StatusGoingAway)
		if st := p.waitClose(t); st.Cause != framework.CauseIdle {
			t.Fatalf("OnClose got %v, want idle timeout", st)
		}
	})
	// A longer timeout here, so that a loaded machine does not make the
	// client look idle between two sends.
	const activeTimeout = 1 * time.Second
	active := serve(t, framework.Options{ReadTimeout: activeTimeout})
	for _, op := range []byte{opText, opPing, opPong} {
		t.Run(fmt.Sprintf("active client kept, op %d", op), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, active.Addr, "/echo")
			tick := time.NewTicker(activeTimeout / 10)
			defer tick.Stop()
			end := time.Now().Add(5 * activeTimeout / 2)
			for time.Now().Before(end) {
				<-tick.C
				c.send(op, []byte("still here"))
				if op == opText {
					c.expectMessage(opText, []byte("still here"))
				}
				if op == opPing {
					if f, err := c.readFrame(); err != nil || f.op != opPong {
						t.Fatalf("got frame op %d, %v, want a pong", f.op, err)
					}
				}
			}
			c.send(opText, []byte("last"))
			c.expectMessage(opText, []byte("last"))
			c.closeNormally()
		})
	}
}

func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	srv := serve(t, framework.Options{WriteTimeout: timeout})
	for _, returnErr := range []bool{true, false} {
		t.Run(fmt.Sprintf("hook returns the send error %v", returnErr), func(t *testing.T) {
			t.Parallel()
			p := newProbe(t)
			chunk := make([]byte, 64<<10)
			p.onOpen = func(ctx context.Context, c *framework.Conn) error {
				if c.Request().URL.Query().Get("flood") == "" {
					return nil
				}
				for {
					if err := c.SendBinary(ctx, chunk); err != nil {
						if returnErr {
							return err
						}
						return nil
					}
				}
			}
			stalled := dialRaw(t, srv.Addr, p.path("/probe")+"&flood=1")
			defer stalled.nc.Close()
			flooding := p.waitOpen(t)
			// Another client keeps being served meanwhile.
			other := dialRaw(t, srv.Addr, p.path("/probe"))
			p.waitOpen(t)
			for i := range 5 {
				msg := []byte(fmt.Sprintf("other %d", i))
				other.send(opText, msg)
				other.expectMessage(opText, msg)
			}
			st := p.waitClose(t)
			if st.Cause != framework.CauseSlow {
				t.Fatalf("OnClose got %v, want cause write timeout", st)
			}
			if flooding.Connected() {
				t.Errorf("the stalled connection still reports Connected")
			}
			other.send(opText, []byte("after"))
			other.expectMessage(opText, []byte("after"))
			other.closeNormally()
			p.waitClose(t)
		})
	}
}

func TestPingInterval(t *testing.T) {
	t.Parallel()
	const every = 150 * time.Millisecond
	srv := serve(t, framework.Options{PingInterval: every})

	t.Run("client that answers stays", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, srv.Addr, "/echo")
		for pings := 0; pings < 4; {
			f, err := c.readFrame()
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if f.op != opPing {
				t.Fatalf("got frame op %d, want a ping", f.op)
			}
			c.send(opPong, f.payload)
			pings++
		}
		c.send(opText, []byte("alive"))
		c.expectMessage(opText, []byte("alive"))
		c.closeNormally()
	})
	t.Run("coder client stays", func(t *testing.T) {
		t.Parallel()
		pinged := make(chan struct{}, 100)
		c, _, err := srv.DialOptions(t, "/echo", &websocket.DialOptions{
			OnPingReceived: func(context.Context, []byte) bool {
				pinged <- struct{}{}
				return true // answer with a pong
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		// coder answers pings while it reads: read in the background
		// until several keep-alive rounds have passed.
		ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
		defer cancel()
		got := make(chan string, 1)
		go func() {
			_, b, err := c.Conn().Read(ctx)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
		}()
		for range 4 {
			select {
			case <-pinged:
			case <-ctx.Done():
				t.Fatalf("no keep-alive ping within %v", rawTimeout)
			}
		}
		if err := c.Conn().Write(ctx, websocket.MessageText, []byte("alive")); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != "alive" {
			t.Fatalf("got %q, want the echo", s)
		}
		c.Close()
	})
	t.Run("client that never answers is closed", func(t *testing.T) {
		t.Parallel()
		p := newProbe(t)
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		code, reason := c.readClose() // skips the pings without answering
		if code != websocket.StatusGoingAway {
			t.Fatalf("got close %v %q, want 1001", code, reason)
		}
		if st := p.waitClose(t); st.Cause != framework.CausePingTimeout {
			t.Fatalf("OnClose got %v, want ping timeout", st)
		}
	})
}

// The close frame reaches a client that reads slowly: it is queued behind
// messages the client has not read yet while the client still has data in
// flight towards the server. Resetting the socket (closing it with unread
// data) would throw the queue away; the server must linger instead.
func TestCloseFrameBehindQueuedData(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{MaxMessageBytes: 1000})
	p := newProbe(t)
	const msgs, size = 64, 16 << 10
	p.onOpen = func(ctx context.Context, c *framework.Conn) error {
		chunk := bytes.Repeat([]byte("q"), size)
		for range msgs {
			if err := c.SendBinary(ctx, chunk); err != nil {
				return err
			}
		}
		return nil
	}
	c := dialRaw(t, srv.Addr, p.path("/probe"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
		_, _ = c.nc.Write(encodeFrame(rawFrame{fin: true, op: opBinary, payload: make([]byte, 1<<20)}, false))
	}()
	defer func() { <-done }()
	for i := range msgs {
		op, b := c.readMessage()
		if op != opBinary || len(b) != size {
			t.Fatalf("message %d: got op %d of %d bytes, want binary of %d", i, op, len(b), size)
		}
	}
	c.expectClose(1009)
}
