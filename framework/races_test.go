package framework_test

import (
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// This file holds tests of concurrency bugs: the byte limit tripping
// while the read loop checks the message limit.

// TestRaceByteLimitDuringMessageCheck: with MessageRate and ByteRate, the
// read loop checks the message limit after coder has released its read
// lock; a Close on another goroutine then reads the rest of the stream
// (coder's close handshake), and the byte limit trips there. Run with
// -race.
func TestRaceByteLimitDuringMessageCheck(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	// 1 byte/s: the burst is all there is. The read buffer is 1 KiB, so
	// the read loop's own read (the frame header) stays within the burst
	// and the close handshake's reads of the payload exceed it.
	srv := serve(t, quietOptions(framework.Options{MessageRate: 1000, ByteRate: 1, ByteBurst: 2048}), faultBP)
	for i := range 5 {
		c := dialRaw(t, srv.Addr, f.path())
		conn := f.waitOpen(t)
		// A pong proves that the read loop is in coder's Reader, holding
		// its read lock: the close handshake below waits for it.
		c.send(opPing, []byte("p"))
		if fr, err := c.readFrame(); err != nil || fr.op != opPong {
			t.Fatalf("round %d: got frame op %d, err %v, want the pong", i, fr.op, err)
		}
		closed := make(chan error, 1)
		go func() { closed <- conn.Close(4000, "bye") }()
		for {
			fr, err := c.readFrame()
			if err != nil {
				t.Fatalf("round %d: got %v, want the close frame", i, err)
			}
			if fr.op == opClose {
				break
			}
		}
		// One message over the burst: its header goes to the read loop,
		// its payload to the close handshake waiting for the lock.
		c.send(opBinary, make([]byte, 8192))
		c.expectEOF()
		if st := f.waitClose(t); st.Code != 4000 || st.Cause != framework.CauseClosed {
			t.Fatalf("round %d: OnClose got %v, want 4000 from Close", i, st)
		}
		if err := <-closed; err != nil {
			t.Fatalf("round %d: Close: %v", i, err)
		}
	}
}
