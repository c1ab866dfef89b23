package framework

import (
	"encoding/binary"
	"testing"
)

// refScan is a reference for frameScanner: it parses a whole client stream
// at once, frame by frame, and returns where the first event is and what
// it is (scanOK and len(b) when there is none).
func refScan(b []byte, limit int64) (int, scanVerdict) {
	var msgLen int64
	compressed := false
	for i := 0; i < len(b); {
		op := b[i] & 0x0f
		if op == 0x8 {
			return i, scanHoldClose
		}
		if len(b)-i < 2 {
			return len(b), scanOK
		}
		hdr := 2
		n := int64(b[i+1] & 0x7f)
		switch n {
		case 126:
			hdr += 2
		case 127:
			hdr += 8
		}
		if b[i+1]&0x80 != 0 {
			hdr += 4
		}
		if len(b)-i < hdr {
			return len(b), scanOK
		}
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(b[i+2:]))
		case 127:
			u := binary.BigEndian.Uint64(b[i+2:])
			if u >= 1<<63 {
				n = 1<<63 - 1
			} else {
				n = int64(u)
			}
		}
		data := true
		switch op {
		case 0x1, 0x2:
			msgLen, compressed = n, b[i]&0x40 != 0
		case 0x0:
			msgLen = min(msgLen+min(n, 1<<62), 1<<62)
		default:
			data = false
		}
		i += hdr
		if data && limit > 0 && !compressed && msgLen > limit {
			return i, scanTooBig
		}
		if int64(len(b)-i) <= n {
			return len(b), scanOK
		}
		i += int(n)
	}
	return len(b), scanOK
}

// FuzzFrameScanner feeds random client streams to the frame scanner, cut
// into chunks at random points: it never panics, and it stops where a
// reference parser of the whole stream does, for the same reason.
func FuzzFrameScanner(f *testing.F) {
	mask := []byte{1, 2, 3, 4}
	hdr := func(b0, b1 byte, ext ...byte) []byte { return append(append([]byte{b0, b1}, ext...), mask...) }
	seeds := [][]byte{
		{},
		append(hdr(0x81, 0x85), "hello"...),
		append(append(hdr(0x01, 0x83), "hel"...), append(hdr(0x80, 0x82), "lo"...)...),
		append(hdr(0x82, 0xfe, 0x01, 0x00), make([]byte, 256)...),
		hdr(0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0),
		hdr(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0),
		append(hdr(0x89, 0x80), hdr(0x88, 0x82, 0x03, 0xe8)...),
		append(append(hdr(0x81, 0x81), 'a'), hdr(0x88, 0x80)...),
		append(hdr(0xc1, 0xfe, 0x10, 0x00), make([]byte, 64)...),
		append(hdr(0x02, 0xfe, 0x03, 0xe8), append(make([]byte, 1000), hdr(0x80, 0xfe, 0x03, 0xe8)...)...),
	}
	for i, s := range seeds {
		f.Add(s, []byte{byte(i), 3, 1}, int64(1000))
		f.Add(s, []byte{}, int64(0))
	}
	f.Fuzz(func(t *testing.T, stream, cuts []byte, limit int64) {
		if limit < 0 {
			limit = -limit
		}
		wantAt, want := refScan(stream, limit)
		s := frameScanner{limit: limit}
		at, got := 0, scanOK
		for rest, c := stream, 0; len(rest) > 0; c++ {
			n := len(rest)
			if c < len(cuts) {
				n = min(n, int(cuts[c])+1)
			}
			i, v := s.feed(rest[:n])
			if i < 0 || i > n {
				t.Fatalf("feed of %d bytes returned index %d", n, i)
			}
			if v != scanOK {
				at, got = at+i, v
				break
			}
			if i != n {
				t.Fatalf("feed of %d bytes returned index %d with scanOK", n, i)
			}
			at += n
			rest = rest[n:]
		}
		if got != want || at != wantAt {
			t.Fatalf("scanner stopped at %d (%v), reference at %d (%v); stream %x, cuts %v, limit %d",
				at, got, wantAt, want, stream, cuts, limit)
		}
	})
}
