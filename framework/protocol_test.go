package framework_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// RFC 6455 conformance over raw TCP, in the spirit of the Autobahn
// testsuite: what a client sends as bytes, and the close code (or echo) it
// must get back.

// fr encodes one masked frame.
func fr(fin bool, op byte, payload string) []byte {
	return encodeFrame(rawFrame{fin: fin, op: op, payload: []byte(payload)}, false)
}

func frames(fs ...[]byte) []byte { return bytes.Join(fs, nil) }

func TestProtocolViolations(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	type testCase struct {
		name  string
		path  string
		bytes []byte
		want  websocket.StatusCode
	}
	testCases := []testCase{
		// Framing.
		{"rsv1 without compression", "/echo", encodeFrame(rawFrame{fin: true, rsv: 0x40, op: opText, payload: []byte("x")}, false), 1002},
		{"rsv2", "/echo", encodeFrame(rawFrame{fin: true, rsv: 0x20, op: opText, payload: []byte("x")}, false), 1002},
		{"rsv3", "/echo", encodeFrame(rawFrame{fin: true, rsv: 0x10, op: opBinary, payload: []byte("x")}, false), 1002},
		{"rsv on ping", "/echo", encodeFrame(rawFrame{fin: true, rsv: 0x70, op: opPing}, false), 1002},
		{"unmasked text", "/echo", encodeFrame(rawFrame{fin: true, op: opText, payload: []byte("hi")}, true), 1002},
		{"unmasked ping", "/echo", encodeFrame(rawFrame{fin: true, op: opPing, payload: []byte("hi")}, true), 1002},
		{"unmasked close", "/echo", encodeFrame(rawFrame{fin: true, op: opClose, payload: closePayload(1000, "")}, true), 1002},
		// Fragmentation.
		{"continuation without start", "/echo", fr(true, opCont, "x"), 1002},
		{"non-final continuation without start", "/echo", fr(false, opCont, "x"), 1002},
		{"text inside fragmented text", "/echo", frames(fr(false, opText, "a"), fr(true, opText, "b")), 1002},
		{"binary inside fragmented text", "/echo", frames(fr(false, opText, "a"), fr(false, opBinary, "b"), fr(true, opCont, "c")), 1002},
		{"text inside fragmented binary", "/echo", frames(fr(false, opBinary, "a"), fr(true, opText, "b")), 1002},
		// Control frames.
		{"ping of 126 bytes", "/echo", fr(true, opPing, strings.Repeat("p", 126)), 1002},
		{"ping of 64 KiB", "/echo", fr(true, opPing, strings.Repeat("p", 1<<16)), 1002},
		{"fragmented ping", "/echo", frames(fr(false, opPing, "a"), fr(true, opCont, "b")), 1002},
		{"fragmented pong", "/echo", fr(false, opPong, "a"), 1002},
		{"close of 126 bytes", "/echo", fr(true, opClose, string(closePayload(1000, strings.Repeat("r", 124)))), 1002},
		{"fragmented close", "/echo", fr(false, opClose, string(closePayload(1000, ""))), 1002},
		{"1-byte close payload", "/echo", fr(true, opClose, "\x03"), 1002},
		// UTF-8 of text messages.
		{"text 0xff", "/echo", fr(true, opText, "ab\xffcd"), 1007},
		{"text overlong slash", "/echo", fr(true, opText, "\xc0\xaf"), 1007},
		{"text overlong 3 bytes", "/echo", fr(true, opText, "\xe0\x80\xaf"), 1007},
		{"text surrogate", "/echo", fr(true, opText, "\xed\xa0\x80"), 1007},
		{"text above U+10FFFF", "/echo", fr(true, opText, "\xf4\x90\x80\x80"), 1007},
		{"text lone continuation", "/echo", fr(true, opText, "\x80"), 1007},
		{"text truncated at the end", "/echo", fr(true, opText, "ok\xe2\x82"), 1007},
		{"text bad across fragments", "/echo", frames(fr(false, opText, "ab\xe2\x82"), fr(true, opCont, "(")), 1007},
		{"text truncated across fragments", "/echo", frames(fr(false, opText, "ab"), fr(false, opCont, "\xe2"), fr(true, opCont, "\x82")), 1007},
		{"text bad in a late fragment", "/echo", frames(fr(false, opText, "κό"), fr(false, opCont, "σμ"), fr(true, opCont, "ε\xf5")), 1007},
		// Unsupported data.
		{"text without OnMessage", "/binary", fr(true, opText, "hello"), 1003},
		{"binary without OnBinary", "/text", fr(true, opBinary, "hello"), 1003},
		{"fragmented binary without OnBinary", "/text", frames(fr(false, opBinary, "a"), fr(true, opCont, "b")), 1003},
	}
	for _, op := range []byte{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		testCases = append(testCases, testCase{fmt.Sprintf("opcode %#x", op), "/echo", fr(true, op, "x"), 1002})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		testCases = append(testCases, testCase{fmt.Sprintf("close code %d", code), "/echo", fr(true, opClose, string(closePayload(code, "bye"))), 1002})
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, tc.path)
			c.write(tc.bytes)
			got, reason := c.readClose()
			if got != tc.want {
				t.Fatalf("got close %v %q, want %v", got, reason, tc.want)
			}
		})
	}
}

// A text message whose first fragment is already invalid is refused at
// once, before the rest of the message arrives (Autobahn 6.4).
func TestProtocolInvalidUTF8FailsFast(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	for _, first := range []string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", "ok\xff", "\xed\xa0"} {
		c := dialRaw(t, srv.Addr, "/echo")
		c.write(fr(false, opText, first))
		c.expectClose(1007)
	}
}

func TestProtocolCloseReasonNotUTF8(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	for _, reason := range []string{"\xff\xfe", "bad \xc0\xaf reason", "cut \xe2\x82"} {
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		p.waitOpen(t)
		c.send(opClose, closePayload(1000, reason))
		got, gotReason := c.readClose()
		if got != 1002 {
			t.Fatalf("reason %q: got close %v %q, want 1002", reason, got, gotReason)
		}
		if !utf8.ValidString(gotReason) || strings.Contains(gotReason, reason) {
			t.Fatalf("reason %q: got reason %q: the bad reason must not be echoed", reason, gotReason)
		}
		if st := p.waitClose(t); st.Code != 1002 {
			t.Fatalf("reason %q: OnClose got %v, want 1002", reason, st)
		}
	}
}

// Valid exchanges: the server echoes what it receives.
func TestProtocolValid(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	type testCase struct {
		name  string
		bytes []byte
		op    byte
		want  string
	}
	kosme := "κόσμε 🙂 €"
	testCases := []testCase{
		{"empty text", fr(true, opText, ""), opText, ""},
		{"empty binary", fr(true, opBinary, ""), opBinary, ""},
		{"125 bytes", fr(true, opText, strings.Repeat("a", 125)), opText, strings.Repeat("a", 125)},
		{"126 bytes", fr(true, opText, strings.Repeat("b", 126)), opText, strings.Repeat("b", 126)},
		{"65535 bytes", fr(true, opBinary, strings.Repeat("c", 65535)), opBinary, strings.Repeat("c", 65535)},
		{"65536 bytes", fr(true, opBinary, strings.Repeat("d", 65536)), opBinary, strings.Repeat("d", 65536)},
		{"multi-byte text", fr(true, opText, kosme), opText, kosme},
		{"fragmented text", frames(fr(false, opText, "hel"), fr(false, opCont, ""), fr(true, opCont, "lo")), opText, "hello"},
		{"fragmented binary", frames(fr(false, opBinary, "\x00\x01"), fr(true, opCont, "\x02")), opBinary, "\x00\x01\x02"},
		{"empty fragments", frames(fr(false, opText, ""), fr(false, opCont, ""), fr(true, opCont, "")), opText, ""},
		{"unsolicited pong ignored", frames(fr(true, opPong, "nobody asked"), fr(true, opText, "after")), opText, "after"},
		{"text with NUL", fr(true, opText, "a\x00b"), opText, "a\x00b"},
		{"max code point", fr(true, opText, "\xf4\x8f\xbf\xbf"), opText, "\xf4\x8f\xbf\xbf"},
	}
	// A valid multi-byte character split at every byte, in two and in
	// one-byte fragments.
	for i := 1; i < len(kosme); i++ {
		testCases = append(testCases, testCase{fmt.Sprintf("text split at %d", i),
			frames(fr(false, opText, kosme[:i]), fr(true, opCont, kosme[i:])), opText, kosme})
	}
	var oneByte [][]byte
	for i := range len(kosme) {
		op := opCont
		if i == 0 {
			op = opText
		}
		oneByte = append(oneByte, fr(i == len(kosme)-1, op, kosme[i:i+1]))
	}
	testCases = append(testCases, testCase{"text in one-byte fragments", frames(oneByte...), opText, kosme})
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, "/echo")
			c.write(tc.bytes)
			c.expectMessage(tc.op, []byte(tc.want))
			c.closeNormally()
		})
	}
}

func TestProtocolManyFragmentsWithPings(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	for _, op := range []byte{opText, opBinary} {
		t.Run(fmt.Sprintf("op %d", op), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, "/echo")
			var want []byte
			var out []byte
			const n = 500
			for i := range n {
				chunk := []byte(strings.Repeat("é", i%7) + fmt.Sprint(i))
				want = append(want, chunk...)
				fop := opCont
				if i == 0 {
					fop = op
				}
				out = append(out, encodeFrame(rawFrame{fin: i == n-1, op: fop, payload: chunk}, false)...)
				if i%50 == 25 {
					out = append(out, fr(true, opPing, fmt.Sprintf("ping %d", i))...)
				}
			}
			c.write(out)
			// The pongs come first, in order, with their payloads, then the message.
			for i := 25; i < n; i += 50 {
				f, err := c.readFrame()
				if err != nil {
					t.Fatalf("read pong: %v", err)
				}
				if f.op != opPong || string(f.payload) != fmt.Sprintf("ping %d", i) {
					t.Fatalf("got frame op %d %q, want pong %q", f.op, f.payload, fmt.Sprintf("ping %d", i))
				}
			}
			c.expectMessage(op, want)
			c.closeNormally()
		})
	}
}

func TestProtocolPingPong(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	for _, payload := range []string{"", "x", "hello ping", strings.Repeat("z", 125), "\xff\x00binary"} {
		c := dialRaw(t, srv.Addr, "/echo")
		c.send(opPing, []byte(payload))
		f, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.op != opPong || string(f.payload) != payload || !f.fin {
			t.Fatalf("got frame op %d fin %v %q, want pong %q", f.op, f.fin, f.payload, payload)
		}
		c.closeNormally()
	}
}

// A client that closes first gets its code echoed, and OnClose reports it.
func TestProtocolClientClose(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	for _, code := range []uint16{1000, 1001, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999} {
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		p.waitOpen(t)
		c.send(opClose, closePayload(code, "see you"))
		f, err := c.readFrame()
		if err != nil {
			t.Fatalf("code %d: %v", code, err)
		}
		got, reason := parseClose(f.payload)
		if f.op != opClose || got != websocket.StatusCode(code) || string(reason) != "see you" {
			t.Fatalf("code %d: got frame op %d code %v %q, want the close echoed with its reason", code, f.op, got, reason)
		}
		c.expectEOF()
		st := p.waitClose(t)
		if st.Code != websocket.StatusCode(code) || st.Reason != "see you" || st.Cause != framework.CausePeer {
			t.Fatalf("code %d: OnClose got %v, want the client's code and reason, cause peer", code, st)
		}
	}
	// An empty close frame: the server answers with an empty one too.
	c := dialRaw(t, srv.Addr, p.path("/probe"))
	p.waitOpen(t)
	c.send(opClose, nil)
	f, err := c.readFrame()
	if err != nil || f.op != opClose || len(f.payload) != 0 {
		t.Fatalf("got frame %+v, %v, want an empty close", f, err)
	}
	c.expectEOF()
	if st := p.waitClose(t); st.Code != websocket.StatusNoStatusRcvd || st.Cause != framework.CausePeer {
		t.Fatalf("OnClose got %v, want 1005 (peer)", st)
	}
}

// A client's close frame that arrives while the server is sending, by
// direct sends (written by nows, and by coder/websocket for a context
// with a deadline) and broadcasts at once, is answered after whole frames, and
// nothing follows the answer: the close is read and answered by nows
// itself (readframe.go), while coder/websocket, which writes the direct
// sends, does not know of it.
func TestProtocolClientCloseWhileSending(t *testing.T) {
	t.Parallel()
	bp := framework.NewBlueprint("", framework.Route[streamHandler]("/stream"))
	// QueueBlock: the client reads little, and must not be closed as slow.
	srv := serve(t, framework.Options{SendQueue: framework.QueueOptions{Policy: framework.QueueBlock}}, bp)
	for i := range 30 {
		c := dialRaw(t, srv.Addr, "/stream")
		for range 3 {
			c.readMessage()
		}
		c.send(opClose, closePayload(1000, "enough"))
		for {
			f, err := c.readFrame()
			if err != nil {
				t.Fatalf("connection %d: %v before the close echo", i, err)
			}
			if !f.fin || f.rsv != 0 {
				t.Fatalf("connection %d: got frame %+v, want whole frames", i, f)
			}
			if f.op == opClose {
				if code, reason := parseClose(f.payload); code != 1000 || string(reason) != "enough" {
					t.Fatalf("connection %d: close echo %v %q, want 1000 \"enough\"", i, code, reason)
				}
				break
			}
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(rawTimeout))
		var ne net.Error
		if n, err := io.Copy(io.Discard, c.br); n != 0 || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d: %d bytes after the close echo (%v), want EOF at once", i, n, err)
		}
		c.nc.Close()
	}
}

// streamHandler sends text messages from three goroutines until the
// connection ends: two with SendText, one broadcasting to a room of its
// own.
type streamHandler struct{ wg sync.WaitGroup }

func (h *streamHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	room := fmt.Sprintf("stream-%p", h)
	if err := c.Join(room); err != nil {
		return err
	}
	h.wg.Add(3)
	go func() {
		defer h.wg.Done()
		for c.SendText(ctx, "direct") == nil {
		}
	}()
	go func() { // a deadline of its own: coder/websocket writes the frame
		defer h.wg.Done()
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for c.SendText(dctx, "with a deadline") == nil {
		}
	}()
	go func() {
		defer h.wg.Done()
		for c.Connected() && c.Hub().Broadcast(ctx, room, framework.Text("broadcast")) == nil {
		}
	}()
	return nil
}

func (h *streamHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return nil
}

func (h *streamHandler) OnClose(c *framework.Conn, st framework.CloseStatus) { h.wg.Wait() }

// Data after the client's close frame is ignored.
func TestProtocolDataAfterClose(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	c := dialRaw(t, srv.Addr, "/echo")
	c.write(frames(fr(true, opClose, string(closePayload(1000, ""))), fr(true, opText, "late")))
	f, err := c.readFrame()
	if err != nil || f.op != opClose {
		t.Fatalf("got %+v, %v, want the close echo", f, err)
	}
	c.expectEOF()
}

// The close frame of a protocol error reaches a client that still has data
// queued towards the server (no reset loses it).
func TestProtocolCloseSurvivesQueuedData(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	for _, tc := range []struct {
		name string
		bad  []byte
		want websocket.StatusCode
	}{
		{"bad opcode", fr(true, 0x3, "x"), 1002},
		{"unmasked frame", encodeFrame(rawFrame{fin: true, op: opText, payload: []byte("x")}, true), 1002},
		{"invalid UTF-8", fr(true, opText, "\xff"), 1007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, "/echo")
			junk := fr(true, opBinary, strings.Repeat("j", 512<<10))
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
				_, _ = c.nc.Write(append(append([]byte(nil), tc.bad...), junk...))
			}()
			<-done
			c.expectClose(tc.want)
		})
	}
}

// Messages the server reads itself (single frames) and those it leaves to
// coder/websocket (fragments, after pings) come in one stream, written at
// once and then in pieces of every size from 1 to 9 bytes: each is echoed
// once, in order. coder must never be handed the start of the message
// after the one it reads, or that message would wait behind the next.
func TestProtocolMixedReaders(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	var stream []byte
	var want []string
	for i := range 12 {
		s := fmt.Sprint("single ", i, strings.Repeat("é", i))
		stream = append(stream, fr(true, opText, s)...)
		want = append(want, s)
		switch i % 3 {
		case 0:
			stream = append(stream, frames(fr(false, opText, "frag"), fr(true, opCont, fmt.Sprint("mented ", i)))...)
			want = append(want, fmt.Sprint("fragmented ", i))
		case 1:
			stream = append(stream, fr(true, opPing, "p")...)
		case 2:
			big := strings.Repeat(fmt.Sprint(i), 6000) // over the wire layer's 4 KiB read
			stream = append(stream, fr(true, opText, big)...)
			want = append(want, big)
		}
	}
	for piece := range 10 {
		t.Run(fmt.Sprintf("pieces of %d", piece), func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv.Addr, "/echo")
			wrote := make(chan error, 1)
			go func() { // the echoes are read while the stream is written
				n := len(stream)
				if piece > 0 {
					n = piece
				}
				for b := stream; len(b) > 0; b = b[min(n, len(b)):] {
					if _, err := c.nc.Write(b[:min(n, len(b))]); err != nil {
						wrote <- err
						return
					}
				}
				wrote <- nil
			}()
			for _, w := range want {
				op, got := c.readMessage()
				if op != opText || string(got) != w {
					t.Fatalf("got op %d %q, want %q", op, clip(got), clip([]byte(w)))
				}
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			c.closeNormally()
		})
	}
}

// A single-frame message written together with the fragmented message
// before it is echoed without waiting for the client's next bytes.
func TestProtocolSingleAfterFragmented(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	c := dialRaw(t, srv.Addr, "/echo")
	for i := range 20 {
		single := fmt.Sprint("single ", i)
		c.write(frames(fr(false, opText, "frag"), fr(true, opCont, fmt.Sprint("mented ", i)), fr(true, opText, single)))
		c.expectMessage(opText, []byte(fmt.Sprint("fragmented ", i)))
		c.expectMessage(opText, []byte(single))
	}
	c.closeNormally()
}
