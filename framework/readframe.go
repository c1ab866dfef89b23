package framework

import (
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// This file reads the common message itself: one unfragmented,
// uncompressed text or binary frame, as nows writes its data frames
// itself (frames.go). coder/websocket parses every frame header again
// through its bufio.Reader, byte by byte, behind a mutex made of channels;
// on a 64-byte echo that was about an eighth of the server's CPU, for
// bytes the wire layer had already looked at. Anything else (a control
// frame, a fragment, a compressed or invalid frame, a message over the
// limit, a connection with a rate limit, TLS) is left to coder's Reader,
// which then reads from exactly where this stopped: coder is never handed
// bytes past the end of a message (see messageEnd), so once it has
// returned one its bufio.Reader is empty and a frame read here comes next
// in the stream.

// readOutcome is what readFrame did.
type readOutcome int

const (
	readByCoder readOutcome = iota // nothing read: coder's Reader reads the next message
	readWhole                      // a whole message was read
	readCut                        // the stream failed in the middle of a frame
	readClose                      // the client's close frame, whole and valid; not consumed yet (see answerClose)
)

// fastReads reports whether readFrame may read this connection's messages.
func (c *wireConn) fastReads() bool { return c.raw != nil && !c.flate && c.rate == nil }

// readFrame reads the next message into buf when it is a single data
// frame whose first bytes have been read (nextFast waits for them in
// awaitData, holding no buffer). It returns the message, its type and
// what it did; with readCut, err is what the socket returned.
func (c *wireConn) readFrame(buf []byte) ([]byte, websocket.MessageType, readOutcome, error) {
	if !c.rmu.TryLock() {
		return buf, 0, readByCoder, nil // coder's close handshake is reading
	}
	c.reading.Add(1) // see linger
	defer func() {
		c.reading.Add(-1)
		c.rmu.Unlock()
	}()
	if !c.betweenFrames() {
		return buf, 0, readByCoder, nil // an error or deadline awaitData met too: coder's Read reports it
	}
	hl, n, typ, ok := c.dataFrame(c.unread)
	if !ok {
		if payload, ok := peerClose(c.unread, buf[:0]); ok {
			return payload, 0, readClose, nil
		}
		return buf, 0, readByCoder, nil
	}
	c.bigReads = hl+n > readChunk
	head := c.unread[:hl]
	var key [4]byte
	copy(key[:], head[hl-4:])
	c.scan.frameCursor.feed(head)
	c.unread = c.unread[hl:]
	buf, err := c.readPayload(buf, n, key)
	if err != nil {
		return buf, typ, readCut, err
	}
	return buf, typ, readWhole, nil
}

// readPayload reads a payload of n bytes masked with key into buf, from
// its start, and unmasks it: from unread and then the socket. A payload
// unread holds whole is unmasked as it is copied out. The buffer grows
// with the bytes that come, not with the length announced: a header
// alone must not make the server allocate MaxMessageBytes. When the
// stream fails before the payload's end, the connection cannot be
// followed from the middle of a frame: it fails (RFC 6455, section
// 7.1.7), and Close lingers to the frame's end.
func (c *wireConn) readPayload(buf []byte, n int, key [4]byte) ([]byte, error) {
	if len(c.unread) >= n {
		buf = slices.Grow(buf[:0], n)[:n]
		unmaskTo(buf, c.unread[:n], key)
		c.skipUnread(n)
		return buf, nil
	}
	buf = c.takeUnreadPayload(buf[:0], n)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), max(len(buf), readChunk)))
		}
		got := len(buf)
		k, err := c.readRaw(buf[got:min(n, cap(buf))])
		buf = buf[:got+k]
		c.scan.frameCursor.feed(buf[got:])
		if err != nil && len(buf) < n {
			c.cut.Store(true)
			c.endReads()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	unmask(buf, key)
	return buf, nil
}

// betweenFrames reports whether the stream is at a frame boundary with
// nothing held back for coder (rmu is held).
func (c *wireConn) betweenFrames() bool {
	return len(c.pending) == 0 && c.unreadErr == nil && len(c.ready) == 0 && len(c.held) == 0 &&
		c.failNext == nil && c.inspect && c.scan.atFrameStart() &&
		!c.readEnded.Load() && !c.lingering.Load() && !c.aborted.Load()
}

// dataFrame parses the frame header at the start of b and reports its
// length, its payload's length and its type, and ok when it starts a
// message readFrame reads: final, no reserved bits, text or binary,
// masked, and within the limit.
func (c *wireConn) dataFrame(b []byte) (hl, n int, typ websocket.MessageType, ok bool) {
	if len(b) < 2 || b[0]&0xf0 != 0x80 || b[1]&0x80 == 0 {
		return 0, 0, 0, false
	}
	switch b[0] & 0x0f {
	case 0x1:
		typ = websocket.MessageText
	case 0x2:
		typ = websocket.MessageBinary
	default:
		return 0, 0, 0, false
	}
	hl = headerLen(b[1])
	if len(b) < hl {
		return 0, 0, 0, false
	}
	length := payloadLen(b[:hl])
	if length > math.MaxInt32 || c.scan.limit > 0 && length > c.scan.limit {
		return 0, 0, 0, false // coder's Read reports it (scanTooBig)
	}
	return hl, int(length), typ, true
}

// peerClose appends to buf the unmasked payload of the close frame at the
// start of b when it is whole and valid: final, no reserved bits, masked,
// and a payload of 0 bytes, or a code a peer may send and a UTF-8 reason.
// Anything else is left to coder, which answers it with the right code.
func peerClose(b, buf []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != 0x88 || b[1]&0x80 == 0 {
		return buf, false
	}
	n := int(b[1] & 0x7f)
	if n == 1 || n > maxReason+2 || len(b) < 6+n {
		return buf, false
	}
	payload := append(buf, b[6:6+n]...)
	unmask(payload, [4]byte(b[2:6]))
	if n > 0 && (!sendable(websocket.StatusCode(binary.BigEndian.Uint16(payload))) || !utf8.Valid(payload[2:])) {
		return buf, false
	}
	return payload, true
}

// answerClose consumes the client's close frame that readFrame found, of
// payload p, and answers it with the same payload, as coder would. Nothing
// is read after it, and Close need not linger. It reports false, having
// done nothing, when the frame is no longer next in the stream: coder
// then reads it.
func (c *wireConn) answerClose(p []byte) bool {
	c.rmu.Lock()
	size := 6 + len(p)
	if !c.betweenFrames() || len(c.unread) < size || c.unread[0] != 0x88 {
		c.rmu.Unlock()
		return false
	}
	c.scan.frameCursor.feed(c.unread[:size])
	c.dropUnread()
	c.peerClosed.Store(true)
	c.inspect = false
	c.endReads()
	c.rmu.Unlock()

	ob := outBufs.Get().(*outBuf) // frames.go: the frame is built in its small buffer
	frame := append(append(ob.small[:0], 0x88, byte(len(p))), p...)
	c.wmu.Lock()
	if !c.closeSent {
		c.closeSent = true // under the same hold of wmu: no data frame follows
		_ = c.writeWhole(frame, nil)
	}
	c.wmu.Unlock()
	outBufs.Put(ob)
	return true
}

// takeUnreadPayload appends to buf what unread holds of a payload of n
// bytes.
func (c *wireConn) takeUnreadPayload(buf []byte, n int) []byte {
	k := min(n, len(c.unread))
	if k == 0 {
		return buf
	}
	buf = append(buf, c.unread[:k]...)
	c.skipUnread(k)
	return buf
}

// skipUnread moves past the first k bytes of unread, a payload's, which
// the caller has copied.
func (c *wireConn) skipUnread(k int) {
	c.scan.frameCursor.feed(c.unread[:k])
	c.unread = c.unread[k:]
	if len(c.unread) == 0 {
		c.dropUnread()
	}
}

// unmask applies a client's masking key to p, a payload from its start.
// (coder's own unmasking was 4.7 % of the server's CPU on a 16 KiB echo.)
func unmask(p []byte, key [4]byte) { unmaskTo(p, p, key) }

// unmaskTo writes src, a payload from its start, unmasked with key to dst,
// which is as long (or is src itself): 32 then eight bytes at a time.
func unmaskTo(dst, src []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k)<<32 | uint64(k)
	dst = dst[:len(src)]
	for len(src) >= 32 {
		_, _ = src[31], dst[31]
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^k64)
		binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:])^k64)
		binary.LittleEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[16:])^k64)
		binary.LittleEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[24:])^k64)
		src, dst = src[32:], dst[32:]
	}
	for len(src) >= 8 {
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^k64)
		src, dst = src[8:], dst[8:]
	}
	for i := range src {
		dst[i] = src[i] ^ byte(k)
		k = bits.RotateLeft32(k, -8)
	}
}

// messageEnd returns how many bytes of b coder may be handed: b follows
// what the scanner has followed, and coder must not get bytes past the
// end of a message (see the top of this file). rmu is held.
func (s *frameScanner) messageEnd(b []byte) int {
	f := s.frameCursor
	for i := 0; i < len(b); {
		i, _ = f.advance(b, i)
		if f.atFrameStart() && f.hdr[0]&0x88 == 0x80 { // a final data frame ended
			return i
		}
	}
	return len(b)
}

// nextFast reads and dispatches the next message when readFrame can read
// it; done is false when coder's Reader must.
func (c *Conn) nextFast() (st CloseStatus, ok, done bool) {
	// Wait first, then take a buffer: a connection waiting for the
	// client held one of the pool's (4 KiB, or as large as a message
	// it had served, up to maxPooledBuffer) for as long as the client
	// stayed idle.
	c.wire.awaitData(0)
	buf := getBuffer()
	defer putBuffer(buf)
	msg, typ, out, err := c.wire.readFrame(*buf)
	*buf = msg
	switch out {
	case readByCoder:
		return st, false, false
	case readCut:
		return c.readFailed(err), false, true
	case readClose:
		return c.closedByPeer(msg)
	}
	if typ == websocket.MessageText && !utf8.Valid(msg) {
		return c.fail(websocket.StatusInvalidFramePayloadData, "invalid UTF-8", CauseProtocol, nil), false, true
	}
	c.observeData(EventReceived, typ, len(msg))
	st, ok = c.dispatch(typ, msg)
	return st, ok, true
}

// closedByPeer ends the connection on the client's close frame of payload
// p, found by readFrame: coder's handling of it (two context timers,
// errors formatted through fmt and wrapped again by each layer, its
// channel mutexes) was about a fifth of the server's CPU per connection
// opened and closed. When a close by the
// server has started, done is false and coder's close handshake, which
// waits for this frame, reads it.
func (c *Conn) closedByPeer(p []byte) (st CloseStatus, ok, done bool) {
	fin := &CloseStatus{Code: websocket.StatusNoStatusRcvd, Cause: CausePeer}
	if len(p) >= 2 {
		fin.Code = websocket.StatusCode(binary.BigEndian.Uint16(p))
		fin.Reason = string(p[2:])
	}
	if !c.closing.CompareAndSwap(nil, fin) {
		return st, false, false
	}
	// The close is claimed: nothing else reads or closes. Should the
	// frame no longer be next, coder reads it and readFailed returns fin.
	return *fin, false, c.wire.answerClose(p)
}
