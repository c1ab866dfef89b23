package framework

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// frame builds an unmasked server frame with an n-byte payload.
func frame(n int) []byte {
	var hdr []byte
	switch {
	case n < 126:
		hdr = []byte{0x82, byte(n)}
	case n < 1<<16:
		hdr = []byte{0x82, 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
	default:
		hdr = make([]byte, 10)
		hdr[0], hdr[1] = 0x82, 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
	}
	return append(hdr, bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestFrameCursor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks [][]byte
		want   []bool // after each chunk: at a frame boundary?
	}{
		{"small frame", [][]byte{frame(5)}, []bool{true}},
		{"two frames at once", [][]byte{append(frame(5), frame(200)...)}, []bool{true}},
		{"16 KiB in bufio pieces", [][]byte{frame(16384)[:4096], frame(16384)[4096:]}, []bool{false, true}},
		{"header split", [][]byte{frame(300)[:1], frame(300)[1:3], frame(300)[3:]}, []bool{false, false, true}},
		{"64-bit length", [][]byte{frame(70000)[:9], frame(70000)[9:]}, []bool{false, true}},
		{"empty payload", [][]byte{frame(0)}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f frameCursor
			for i, c := range tt.chunks {
				if got := f.feed(c); got != tt.want[i] {
					t.Errorf("chunk %d: got boundary %v, want %v", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestCoalesce writes frames in random pieces through a wireConn and checks
// that the bytes arrive intact and in order.
func TestCoalesce(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	c := newWireConn(server, nil, 0, 0, 0)
	defer c.abort()

	var want []byte
	for _, n := range []int{0, 1, 125, 126, 4000, 16384, 65535, 70000, 200000} {
		want = append(want, frame(n)...)
	}
	got := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 32<<10)
		for len(all) < len(want) {
			n, err := client.Read(buf)
			if err != nil {
				break
			}
			all = append(all, buf[:n]...)
		}
		got <- all
	}()
	r := rand.New(rand.NewPCG(1, 2))
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(5000))
		if k, err := c.Write(rest[:n]); err != nil || k != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, k, err)
		}
		rest = rest[n:]
	}
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("got %d bytes, want the %d written, in order", len(all), len(want))
	}
	if c.heldOut != nil {
		t.Errorf("bytes still held after the last frame ended")
	}
}

// TestCoalesceHoldsUntilTheFrameEnds checks what is held: the start of a
// frame until its end is written, nothing after a frame boundary, and never
// more than maxHeldOut.
func TestCoalesceHoldsUntilTheFrameEnds(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	c := newWireConn(server, nil, 0, 0, 0)
	defer c.abort()

	f := frame(16384)
	mustWrite(t, c, f[:4096])
	if c.heldOut == nil || len(*c.heldOut) != 4096 {
		t.Fatalf("after the first 4 KiB of a 16 KiB frame: nothing held, want 4096 bytes")
	}
	mustWrite(t, c, f[4096:])
	if c.heldOut != nil {
		t.Fatalf("after the end of the frame: %d bytes still held", len(*c.heldOut))
	}
	mustWrite(t, c, frame(10))
	if c.heldOut != nil {
		t.Fatalf("a whole small frame was held")
	}
	big := frame(3 * maxHeldOut)
	for i := 0; i < len(big); i += 4096 {
		mustWrite(t, c, big[i:min(i+4096, len(big))])
		if c.heldOut != nil && len(*c.heldOut) > maxHeldOut {
			t.Fatalf("held %d bytes, more than maxHeldOut (%d)", len(*c.heldOut), maxHeldOut)
		}
	}
	if c.heldOut != nil {
		t.Fatalf("after the end of a large frame: %d bytes still held", len(*c.heldOut))
	}
}

func mustWrite(t *testing.T, c *wireConn, p []byte) {
	t.Helper()
	if n, err := c.Write(p); err != nil || n != len(p) {
		t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
	}
}

// countingConn counts the writes that reach it.
type countingConn struct {
	net.Conn
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.Conn.Write(p)
}

// TestCork checks what a corked wire layer holds: whole data frames until
// an uncorked one takes them out, never a control frame, which leaves at
// once after what is held; the bytes stay in order.
func TestCork(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	counted := &countingConn{Conn: server}
	c := newWireConn(counted, nil, 0, 0, 0)
	defer c.abort()
	var want []byte
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	write := func(p []byte) {
		t.Helper()
		mustWrite(t, c, p)
		want = append(want, p...)
	}
	pong := []byte{0x8a, 1, 'p'}

	c.corked.Store(true)
	for range 10 {
		write(frame(100))
	}
	if c.heldOut == nil || len(*c.heldOut) != 10*len(frame(100)) || counted.writes != 0 {
		t.Fatalf("corked: %d writes, want 10 frames held and none written", counted.writes)
	}
	write(pong) // a control frame is not held, and follows what is
	if c.heldOut != nil || counted.writes == 0 {
		t.Fatalf("a pong while corked: still held, or nothing written")
	}
	writes := counted.writes
	for range 5 {
		write(frame(200))
	}
	c.corked.Store(false)
	write(frame(300))
	if c.heldOut != nil {
		t.Fatalf("uncorked: %d bytes still held", len(*c.heldOut))
	}
	// net.Pipe is no TCP socket: the writev is a write per buffer.
	if n := counted.writes - writes; n != 2 {
		t.Errorf("6 frames, the last uncorked: %d writes, want 2 (held, last)", n)
	}
	// A corked batch larger than maxHeldOut goes out in pieces.
	c.corked.Store(true)
	for range 100 {
		write(frame(4000))
		if c.heldOut != nil && len(*c.heldOut) > maxHeldOut {
			t.Fatalf("held %d bytes, more than maxHeldOut (%d)", len(*c.heldOut), maxHeldOut)
		}
	}
	c.corked.Store(false)
	write(frame(1))
	if c.heldOut != nil {
		t.Fatalf("uncorked: %d bytes still held", len(*c.heldOut))
	}
	server.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the client read %d bytes, not the %d written in order", len(b), len(want))
	}
}
