package framework

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"

	"github.com/coder/websocket"
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

// TestTakeTurns has coder (one goroutine writing frames in random pieces,
// one of them a fragmented message with a ping inside) and nows's own
// writes of data frames share one wireConn, and checks that the client
// reads every frame whole, no data frame inside the fragmented message, and
// that after coder's close frame nows's writes fail with net.ErrClosed.
func TestTakeTurns(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	c := newWireConn(server, nil, 0, 0, 0)
	defer c.abort()
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()

	const rounds = 40
	ours := bytes.Repeat([]byte{0x55}, 100)
	done := make(chan error, 1)
	go func() {
		for range rounds {
			runtime.Gosched() // let coder's writes come in between
			if err := c.writeMessage(websocket.MessageBinary, ours); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	r := rand.New(rand.NewPCG(3, 4))
	coderWrite := func(f []byte) {
		for len(f) > 0 {
			n := min(len(f), 1+r.IntN(3000))
			mustWrite(t, c, f[:n])
			runtime.Gosched()
			f = f[n:]
		}
	}
	for range rounds {
		coderWrite(frame(16384))
		coderWrite([]byte{0x01, 3, 'a', 'b', 'c'}) // a text message's first fragment
		coderWrite([]byte{0x89, 0})                // a ping may come in between
		coderWrite([]byte{0x80, 3, 'd', 'e', 'f'}) // its last fragment
	}
	if err := <-done; err != nil {
		t.Fatalf("writeMessage: %v", err)
	}
	coderWrite([]byte{0x88, 2, 0x03, 0xe8})
	if err := c.writeMessage(websocket.MessageText, []byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writeMessage after the close frame = %v, want net.ErrClosed", err)
	}
	server.Close()
	frames := parseFrames(t, <-got)
	var counts [16]int
	inMessage := false
	for i, f := range frames {
		op := f.op
		counts[op]++
		switch {
		case op == 0x1 || op == 0x2 || op == 0x0:
			if inMessage != (op == 0x0) {
				t.Fatalf("frame %d: opcode %#x inside a fragmented message, or a continuation outside one", i, op)
			}
			inMessage = !f.fin
		case op == 0x8 && i != len(frames)-1:
			t.Fatalf("frame %d: a close frame before the end", i)
		}
		if op == 0x2 && !bytes.Equal(f.payload, ours) && !bytes.Equal(f.payload, bytes.Repeat([]byte{0}, 16384)) {
			t.Fatalf("frame %d: a binary frame of %d bytes that neither writer wrote whole", i, len(f.payload))
		}
	}
	if counts[0x2] != 2*rounds || counts[0x1] != rounds || counts[0x0] != rounds || counts[0x9] != rounds || counts[0x8] != 1 {
		t.Fatalf("frames read by opcode: %v", counts)
	}
}

// wsFrame is a frame as the client read it.
type wsFrame struct {
	op      byte
	fin     bool
	payload []byte
}

// parseFrames splits b into unmasked server frames.
func parseFrames(t *testing.T, b []byte) []wsFrame {
	t.Helper()
	var out []wsFrame
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("%d bytes left: not a frame header", len(b))
		}
		h := headerLen(b[1])
		n := payloadLen(b)
		if int64(len(b)-h) < n {
			t.Fatalf("a frame of %d bytes with %d left", n, len(b)-h)
		}
		out = append(out, wsFrame{op: b[0] & 0x0f, fin: b[0]&0x80 != 0, payload: b[h : h+int(n)]})
		b = b[h+int(n):]
	}
	return out
}

// TestTryWritePartial fills a TCP socket with tryWrite until the socket
// takes only part of a frame, then checks that the next write sends the
// rest of that frame first: the client reads every frame whole, in order.
func TestTryWritePartial(t *testing.T) {
	t.Parallel()
	client, nc := tcpPair(t)
	c := newWireConn(nc, nil, 0, 0, 0)
	defer c.abort()

	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1<<20) }
	written, partial := 0, false
	for i := 0; i < 100 && !partial; i++ {
		f := newFrame(websocket.MessageBinary, payload(i))
		switch n := c.tryWrite(f); {
		case n == len(f):
			written++
		case n > 0:
			written++
			partial = true
		default:
			t.Fatalf("frame %d: tryWrite wrote nothing, want a part before the socket was full", i)
		}
	}
	if !partial {
		t.Fatal("the socket took 100 frames of 1 MiB without a short write")
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if err := c.writeMessage(websocket.MessageBinary, payload(written)); err != nil {
		t.Fatalf("writeMessage after a short write: %v", err)
	}
	_ = nc.Close()
	frames := parseFrames(t, <-got)
	if len(frames) != written+1 {
		t.Fatalf("the client read %d frames, want %d", len(frames), written+1)
	}
	for i, f := range frames {
		if !bytes.Equal(f.payload, payload(i)) {
			t.Fatalf("frame %d: not the payload written", i)
		}
	}
}
