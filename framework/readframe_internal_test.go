package framework

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// unmask agrees with the byte-at-a-time definition (RFC 6455, section
// 5.3) at every length around its 32- and 8-byte steps.
func TestUnmask(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 100 {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		var key [4]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		want := bytes.Clone(p)
		for i := range want {
			want[i] ^= key[i%4]
		}
		dst := make([]byte, n)
		unmaskTo(dst, p, key)
		if !bytes.Equal(dst, want) {
			t.Fatalf("length %d, copied: got %x, want %x", n, dst, want)
		}
		unmask(p, key)
		if !bytes.Equal(p, want) {
			t.Fatalf("length %d: got %x, want %x", n, p, want)
		}
	}
}

// After a message larger than readChunk, fill reads into a bigChunk
// buffer: the next 16 KiB message comes in one read, with what follows
// it, and readFrame unmasks each as it copies it out, whole and in order;
// a message whose end comes later is completed from the socket.
func TestReadFramePipelined(t *testing.T) {
	client, server := tcpPair(t)
	w := newWireConn(server, nil, 1<<20, 0, 0)
	defer w.Close()
	r := rand.New(rand.NewPCG(3, 4))
	payload := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return p
	}
	read := func(what string, want []byte) {
		t.Helper()
		w.awaitData(0) // as nextFast does
		got, _, out, err := w.readFrame(nil)
		if out != readWhole || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: outcome %d, err %v, %d bytes, equal %v; want %d bytes, whole", what, out, err, len(got), bytes.Equal(got, want), len(want))
		}
	}
	first := payload(16 << 10)
	if _, err := client.Write(maskedFrame(0x82, first, 0x05060708)); err != nil {
		t.Fatal(err)
	}
	read("the first 16 KiB message", first)
	if !w.bigReads {
		t.Fatal("bigReads is false after a 16 KiB message")
	}
	big, small, last := payload(16<<10), []byte("hello"), payload(3000)
	stream := bytes.Join([][]byte{
		maskedFrame(0x82, big, 0x01020304),
		maskedFrame(0x81, small, 0xa0b0c0d0),
		maskedFrame(0x82, last, 0x11223344),
	}, nil)
	split := len(stream) - 1000
	if _, err := client.Write(stream[:split]); err != nil {
		t.Fatal(err)
	}
	read("the second 16 KiB message", big)
	if w.unreadBuf == nil || cap(*w.unreadBuf) != bigChunk {
		t.Fatal("the messages after the second were not read with it into a bigChunk buffer")
	}
	read("the small message", small)
	go func() { _, _ = client.Write(stream[split:]) }()
	read("the message split across reads", last)
	if len(w.unread) != 0 || w.unreadBuf != nil || w.bigReads {
		t.Fatalf("%d bytes left unread, pooled buffer held %v, bigReads %v; want none, false", len(w.unread), w.unreadBuf != nil, w.bigReads)
	}
	client.Close() // w.Close lingers until the client's end
}

// maskedFrame encodes a client's frame: first byte b0, payload p masked
// with key.
func maskedFrame(b0 byte, p []byte, key uint32) []byte {
	f := []byte{b0, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(f[2:], uint64(len(p)))
	switch {
	case len(p) < 126:
		f = []byte{b0, 0x80 | byte(len(p))}
	case len(p) < 1<<16:
		f = []byte{b0, 0x80 | 126, byte(len(p) >> 8), byte(len(p))}
	}
	f = binary.BigEndian.AppendUint32(f, key)
	for i, c := range p {
		f = append(f, c^byte(key>>(24-8*(i%4))))
	}
	return f
}

// tcpPair returns both ends of a loopback TCP connection, closed when the
// test ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// messageEnd stops at the end of the first final data frame, wherever the
// scan starts, and passes over control frames and fragments.
func TestMessageEnd(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	frame := func(b0 byte, payload int) []byte {
		return append([]byte{b0, 0x80 | byte(payload)}, append(mask, make([]byte, payload)...)...)
	}
	single, ping := frame(0x81, 5), frame(0x89, 3)
	first, last := frame(0x01, 4), frame(0x80, 2)
	stream := bytes.Join([][]byte{ping, first, ping, last, single, single}, nil)
	msgEnd := len(ping) + len(first) + len(ping) + len(last)
	// Scanning from every point before the first message's end, in one
	// piece, stops there.
	for start := range msgEnd {
		var s frameScanner
		s.frameCursor.feed(stream[:start])
		if got := s.messageEnd(stream[start:]); got != msgEnd-start {
			t.Fatalf("from %d: got %d, want %d", start, got, msgEnd-start)
		}
	}
	var s frameScanner
	s.frameCursor.feed(stream[:msgEnd])
	if got := s.messageEnd(stream[msgEnd:]); got != len(single) {
		t.Fatalf("after the first message: got %d, want %d", got, len(single))
	}
	if got := s.messageEnd(first); got != len(first) {
		t.Fatalf("a fragment alone: got %d, want all %d", got, len(first))
	}
}

// BenchmarkUnmask measures unmasking a 16 KiB payload.
func BenchmarkUnmask(b *testing.B) {
	p := make([]byte, 16<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		unmask(p, [4]byte{1, 2, 3, 4})
	}
}

// A frame that announces a megabyte and sends ten bytes costs the server
// the bytes it sent, not the length it announced, and a stream that ends
// inside it is reported cut.
func TestReadFrameGrowsWithBytes(t *testing.T) {
	client, server := tcpPair(t)
	w := newWireConn(server, nil, 4<<20, 0, 0)
	defer w.Close()
	hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4} // binary, 1 MiB, masked
	if _, err := client.Write(append(hdr, make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	client.Close()
	w.awaitData(0) // as nextFast does
	buf, _, out, err := w.readFrame(make([]byte, 0, 64))
	if out != readCut || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got outcome %d, err %v; want the stream cut, io.ErrUnexpectedEOF", out, err)
	}
	if len(buf) != 10 || cap(buf) > 64<<10 {
		t.Fatalf("read %d bytes into a buffer of %d; want 10 into at most 64 KiB", len(buf), cap(buf))
	}
}
