package framework_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// expectRateLimited fails the test unless the server closes c with 1008
// and OnClose reports CauseRateLimit.
func expectRateLimited(t *testing.T, f *faults, c *rawConn) {
	t.Helper()
	if reason := c.expectClose(websocket.StatusPolicyViolation); reason != "rate limit exceeded" {
		t.Errorf("got close reason %q, want \"rate limit exceeded\"", reason)
	}
	if st := f.waitClose(t); st.Code != websocket.StatusPolicyViolation || st.Cause != framework.CauseRateLimit {
		t.Fatalf("OnClose got %v, want 1008 (rate limit)", st)
	}
}

func TestMessageRate(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	srv := serve(t, quietOptions(framework.Options{MessageRate: 4, MessageBurst: 5}), faultBP)

	t.Run("burst then one more", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		var out []byte
		for i := range 6 {
			out = append(out, encodeFrame(rawFrame{fin: true, op: opText, payload: fmt.Appendf(nil, "m%d", i)}, false)...)
		}
		c.write(out) // six at once: the burst holds five
		for i := range 5 {
			c.expectMessage(opText, fmt.Appendf(nil, "m%d", i))
		}
		expectRateLimited(t, f, c)
	})
	t.Run("under the rate", func(t *testing.T) {
		fast := serve(t, quietOptions(framework.Options{MessageRate: 40, MessageBurst: 2}), faultBP)
		c := dialRaw(t, fast.Addr, f.path())
		f.waitOpen(t)
		for i := range 10 {
			// At most 20/s against 40/s, as the server counts them: each
			// message begins a twentieth of a second after the echo of the
			// last, so after the server counted it. (A ticker's sends were
			// a twentieth apart at the client, but a slow read of one
			// message on a loaded machine could bring three together at
			// the server, and the burst holds two.)
			time.Sleep(time.Second / 20)
			msg := fmt.Appendf(nil, "slow %d", i)
			c.send(opText, msg)
			c.expectMessage(opText, msg)
		}
		c.closeNormally()
		f.waitClose(t)
	})
	t.Run("fragments are one message", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		var parts []rawFrame
		for i := range 20 {
			op := opCont
			if i == 0 {
				op = opBinary
			}
			parts = append(parts, rawFrame{fin: i == 19, op: op, payload: []byte("x")})
		}
		c.writeFrames(parts...)
		c.expectMessage(opBinary, bytes.Repeat([]byte("x"), 20))
		c.closeNormally()
		f.waitClose(t)
	})
}

func TestByteRate(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	srv := serve(t, quietOptions(framework.Options{ByteRate: 1000, ByteBurst: 2000}), faultBP)

	t.Run("within the burst", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		msg := bytes.Repeat([]byte("b"), 1500)
		c.send(opBinary, msg)
		c.expectMessage(opBinary, msg)
		c.closeNormally()
		f.waitClose(t)
	})
	t.Run("over the burst", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		msg := bytes.Repeat([]byte("b"), 1500)
		c.send(opBinary, msg)
		c.expectMessage(opBinary, msg)
		c.send(opBinary, msg) // 3000 bytes within far less than a second
		expectRateLimited(t, f, c)
	})
	t.Run("a ping flood counts", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		var out []byte
		for range 40 {
			out = append(out, encodeFrame(rawFrame{fin: true, op: opPing, payload: bytes.Repeat([]byte("p"), 100)}, false)...)
		}
		c.write(out) // 40 × 106 bytes, no message at all
		expectRateLimited(t, f, c)
	})
	t.Run("one message larger than the burst", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, f.path())
		f.waitOpen(t)
		c.write(encodeFrame(rawFrame{fin: true, op: opBinary, payload: make([]byte, 3000)}, false))
		expectRateLimited(t, f, c)
	})
}

func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		opts         framework.Options
		wantMsgBurst int
		wantBytes    int64
	}{
		{framework.Options{}, 0, 0},
		{framework.Options{MessageRate: 0.5}, 1, 0},
		{framework.Options{MessageRate: 10}, 10, 0},
		{framework.Options{MessageRate: 10, MessageBurst: 3}, 3, 0},
		{framework.Options{ByteRate: 4096}, 0, 4096},
		{framework.Options{ByteRate: 4096, ByteBurst: 1 << 20}, 0, 1 << 20},
	}
	for _, tc := range testCases {
		o := framework.OptionsOf(framework.NewServer(tc.opts))
		if o.MessageBurst != tc.wantMsgBurst || o.ByteBurst != tc.wantBytes {
			t.Errorf("%+v: got MessageBurst %d, ByteBurst %d, want %d, %d",
				tc.opts, o.MessageBurst, o.ByteBurst, tc.wantMsgBurst, tc.wantBytes)
		}
	}
}
