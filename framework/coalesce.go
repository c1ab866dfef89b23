package framework

import (
	"net"
	"sync"
)

// coder/websocket writes a frame through a 4 KiB bufio.Writer: a 16 KiB
// message leaves as 4 KiB (the header and the start of the payload, when the
// buffer fills) and then the other 12 KiB, in two syscalls. A bigger buffer
// would cost every idle connection its size. Instead the wire layer follows
// the frames it is given: a write that ends inside a frame is held, and sent
// with the rest of the frame, which coder writes at once, in one writev.
// Writes that end on a frame boundary (every small message) go straight
// out, and an idle connection holds nothing.

// maxHeldOut bounds the bytes held for one frame: a larger frame goes out
// in pieces of about this size.
const maxHeldOut = 64 << 10

// coalesce handles a write that is to be held (it ends inside a frame), or
// one that follows bytes held. wmu is held.
func (c *wireConn) coalesce(p []byte, hold bool) error {
	held := 0
	if c.heldOut != nil {
		held = len(*c.heldOut)
	}
	if hold && held+len(p) <= maxHeldOut {
		if c.heldOut == nil {
			c.heldOut = heldOutPool.Get().(*[]byte)
		}
		*c.heldOut = append(*c.heldOut, p...)
		return nil
	}
	if c.heldOut == nil {
		return c.writeOut(p, nil)
	}
	bufs := net.Buffers{*c.heldOut, p}
	err := c.writeOut(nil, &bufs)
	*c.heldOut = (*c.heldOut)[:0]
	if cap(*c.heldOut) <= maxHeldOut {
		heldOutPool.Put(c.heldOut)
	}
	c.heldOut = nil
	return err
}

var heldOutPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// frameCursor follows a stream of frames: header bytes one by one,
// payloads by arithmetic. The wire layer uses one for the frames the client
// sends (in frameScanner) and one for those the server writes.
type frameCursor struct {
	hdr       [14]byte
	hn, need  int
	remaining int64 // payload bytes left in the current frame
}

// atFrameStart reports whether the next byte starts a frame.
func (f *frameCursor) atFrameStart() bool { return f.remaining == 0 && f.hn == 0 }

// advance consumes, from b[i:], either as much of the current payload as b
// holds or one header byte, and returns the next index and whether that
// byte completed a header (then hdr holds it and remaining its length).
func (f *frameCursor) advance(b []byte, i int) (int, bool) {
	if f.remaining > 0 {
		skip := min(int64(len(b)-i), f.remaining)
		f.remaining -= skip
		return i + int(skip), false
	}
	f.hdr[f.hn] = b[i]
	f.hn++
	if f.hn == 2 {
		f.need = headerLen(f.hdr[1])
	}
	if f.hn >= 2 && f.hn == f.need {
		f.hn, f.remaining = 0, payloadLen(f.hdr[:])
		return i + 1, true
	}
	return i + 1, false
}

// feed consumes p and reports whether it ended exactly at the end of a frame.
func (f *frameCursor) feed(p []byte) bool {
	for i := 0; i < len(p); {
		i, _ = f.advance(p, i)
	}
	return f.atFrameStart()
}
