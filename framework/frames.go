package framework

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"

	"github.com/coder/websocket"
)

// nows writes the data frames of its messages itself, under coder: a
// server's frame is a header and the payload as it is (no mask), so a
// broadcast's frame is built once and the same bytes go to every member,
// and a member's queued messages leave in one writev. coder still reads,
// answers pings, writes its control frames (pong, ping, close) and, on a
// connection that negotiated permessage-deflate, the data frames too
// (their bytes differ per connection).
//
// The two writers take turns through wireConn.wmu: coder holds it from the
// first byte of a frame to its last (coder writes a frame in one or more
// calls of Write, under its own frame lock), writeFrames for the frames it
// writes. So frames stay whole and in order, a pong never waits behind more
// than the frames being written, and a data frame never follows the close
// frame (closeSent). The lock order is coder's frame lock, then wmu: nows
// never takes coder's lock while holding wmu.

// maxHeader is the longest header of a server frame.
const maxHeader = 10

// appendFrame appends to b an unfragmented, unmasked frame of a message of
// type typ holding p.
func appendFrame(b []byte, typ websocket.MessageType, p []byte) []byte {
	return append(appendHeader(b, typ, len(p)), p...)
}

// appendHeader appends the header of an unfragmented, unmasked frame of a
// message of type typ with an n-byte payload.
func appendHeader(b []byte, typ websocket.MessageType, n int) []byte {
	b = append(b, 0x80|byte(typ)) // FIN and the opcode: MessageText is 1, MessageBinary 2
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
}

// newFrame returns the frame of a message in a buffer of its own. The
// payload is frame[len(frame)-len(p):].
func newFrame(typ websocket.MessageType, p []byte) []byte {
	return appendFrame(make([]byte, 0, maxHeader+len(p)), typ, p)
}

// smallFrame is the largest frame writeMessage copies into one buffer;
// larger payloads go out from where they are, after their header, in one
// writev.
const smallFrame = 2048

// outBuf is the scratch space of one write of data frames.
type outBuf struct {
	bufs  net.Buffers // what is written, over vec
	vec   [maxBatch][]byte
	small [smallFrame]byte

	// tryWrite's: what to write, and what the write did.
	try    []byte
	tried  int
	tryFn  func(uintptr) bool // ob.writeNow, made once: a method value allocates
	tryErr error
}

var outBufs = sync.Pool{New: func() any {
	ob := new(outBuf)
	ob.tryFn = ob.writeNow
	return ob
}}

// writeNow is tryWrite's RawConn callback: one write(2) that does not wait.
func (ob *outBuf) writeNow(fd uintptr) bool {
	for {
		n, err := sysWrite(fd, ob.try)
		if err == syscall.EINTR {
			continue
		}
		ob.tried, ob.tryErr = max(n, 0), err
		return true
	}
}

// writeMessage writes one message as a frame, between coder's frames.
func (c *wireConn) writeMessage(typ websocket.MessageType, p []byte) error {
	ob := outBufs.Get().(*outBuf)
	if maxHeader+len(p) <= smallFrame {
		ob.bufs = append(ob.vec[:0], appendFrame(ob.small[:0], typ, p))
	} else {
		ob.bufs = append(ob.vec[:0], appendHeader(ob.small[:0], typ, len(p)), p)
	}
	err := c.writeFrames(&ob.bufs)
	clear(ob.vec[:])
	outBufs.Put(ob)
	return err
}

// writeFrames writes whole frames, which it consumes from bufs, in one
// writev, between the frames coder writes. It fails with net.ErrClosed
// once a close frame has been written, and after any failed write.
func (c *wireConn) writeFrames(bufs *net.Buffers) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if len(*bufs) == 1 {
		return c.writeWhole((*bufs)[0], nil) // write(2), cheaper than a writev of one buffer
	}
	return c.writeWhole(nil, bufs)
}

// writeWhole writes whole frames, p or those of bufs as writeOut does,
// after what tryWrite left of one, unless a write has failed; a failure
// is kept for every later write. wmu is held.
func (c *wireConn) writeWhole(p []byte, bufs *net.Buffers) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	err := c.flushRest()
	if err == nil {
		err = c.writeOut(p, bufs)
	}
	if err != nil {
		c.writeErr = err
	}
	return err
}

// tryWrite writes frame from the caller's goroutine if no one else is
// writing and the socket takes bytes now, without waiting for it. It
// returns how much it wrote: 0 when it could not (the caller leaves the
// frame to a writer goroutine, which meets any error too), all of it, or
// a part, whose rest the next write sends first (see flushRest).
func (c *wireConn) tryWrite(frame []byte) int {
	if c.raw == nil || !c.wmu.TryLock() {
		return 0
	}
	defer c.wmu.Unlock()
	if c.closeSent || c.writeErr != nil || len(c.rest) > 0 {
		return 0
	}
	ob := outBufs.Get().(*outBuf)
	ob.try = frame
	err := c.raw.Write(ob.tryFn)
	n := ob.tried
	if err != nil || ob.tryErr != nil {
		n = 0
	}
	ob.try, ob.tried, ob.tryErr = nil, 0, nil
	outBufs.Put(ob)
	if n > 0 && n < len(frame) {
		c.rest = frame[n:]
	}
	return n
}

// flushRest writes what tryWrite left of a frame, which goes before
// anything else. wmu is held.
func (c *wireConn) flushRest() error {
	if len(c.rest) == 0 {
		return nil
	}
	rest := c.rest
	c.rest = nil
	return c.writeOut(rest, nil)
}

// finishFrame writes what tryWrite left of a frame, if anything, and
// reports the outcome.
func (c *wireConn) finishFrame() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeErr != nil {
		return c.writeErr
	}
	if err := c.flushRest(); err != nil {
		c.writeErr = err
		return err
	}
	return nil
}
