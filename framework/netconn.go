package framework

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// This file holds what sits between coder/websocket and the TCP socket: a
// net.Conn that follows the client's frame headers as the bytes pass (to
// enforce MaxMessageBytes before a payload arrives and to refuse a close
// reason that is not UTF-8, which coder would echo back), enforces the idle
// and write timeouts with one lazily re-armed deadline each (no timer or
// goroutine per connection), and lingers on close so that the client reads
// the close frame instead of a reset (also when it is still in the middle
// of sending a message the server stopped reading: see linger).

// Errors the wire layer injects into coder's reads. They never reach users.
var (
	errTooBig      = errors.New("framework: message over MaxMessageBytes")
	errCloseReason = errors.New("framework: close reason is not valid UTF-8")
	errIdle        = errors.New("framework: idle timeout")
)

const (
	// lingerTimeout bounds how long a closing connection waits for the
	// client's FIN after sending its own.
	lingerTimeout = 2 * time.Second
	// lingerBytes bounds how much a closing connection discards.
	lingerBytes = 1 << 20
	// drainTimeout and drainBytes bound the linger of a connection whose
	// client is in the middle of a frame the server stopped reading (one
	// over MaxMessageBytes, typically): it discards the rest of that frame
	// too, so that a client still sending reads the close frame.
	drainTimeout = 5 * time.Second
	drainBytes   = 64 << 20
	// closeGrace is how long reads may take once a timeout has fired, so
	// that the close handshake can still complete.
	closeGrace = 5 * time.Second
)

// wireConn wraps the hijacked net.Conn under coder/websocket.
type wireConn struct {
	net.Conn
	start        time.Time
	readTimeout  time.Duration
	writeTimeout time.Duration

	// Read side: used only by the goroutine in coder's Reader (coder
	// serialises it), except lastRead, which the ping timer reads. The
	// scanner's cursor follows every byte read from the socket but those
	// in held, also once nothing is inspected any more, so that a linger
	// knows where in the client's stream the reads stopped.
	pending  []byte // bytes net/http buffered before the hijack
	ready    []byte // inspected bytes waiting to be handed to coder
	held     []byte // an incomplete close frame, held until validated
	failNext error  // an error to hand coder before ready
	scan     frameScanner
	reading  atomic.Int32 // Reads under way: a linger may follow the stream only without one
	inspect  bool
	rateOver bool         // the byte limit was exceeded: nothing more is read
	bigReads bool         // the last message readFrame read was larger than readChunk: fill reads bigChunk
	lastRead atomic.Int64 // time since start of the last byte read, in ns
	rate     *rateLimiter // Options.MessageRate and ByteRate, nil without them (ratelimit.go); never changes

	// The idle wait (see awaitData), on sockets that have a RawConn. rmu
	// serialises Read with awaitData: coder's close handshake may read
	// from another goroutine while the read loop waits. unread holds
	// bytes read from the socket and not yet handed to coder (in front of
	// the socket's), in the pooled array unreadBuf when it is not nil.
	raw       syscall.RawConn
	fillFn    func(uintptr) bool // c.fill, made once: a method value allocates
	rmu       sync.Mutex
	unread    []byte
	unreadBuf *[]byte // of readChunk or bigChunk bytes
	unreadErr error   // what the socket returned after unread

	// A connection parked with no goroutine (park_linux.go): its key in
	// the poller, 0 when not parked, parkClosed once Close or abort has
	// woken it; and, under the poller's lock, 1 + the index of its idle
	// deadline in the poller's heap (0: none).
	parkKey atomic.Uint64
	parkIdx int

	// Write side (frames.go): wmu is held by coder from the first byte
	// of a frame to its last (coderHolds, which only coder's writer
	// touches, under coder's frame lock), or by writeFrames. What follows
	// is used under wmu.
	wmu        sync.Mutex
	coderHolds bool
	fragmented bool   // coder is in the middle of a fragmented message: no other data frame may come between
	closeSent  bool   // coder has written a close frame: no data frame may follow
	writeErr   error  // a write failed: so does every later one
	rest       []byte // the end of a frame tryWrite wrote in part: it goes before anything else
	writeArmed time.Time
	outFrames  frameCursor // where coder's outgoing frames end
	heldOut    *[]byte     // the start of a frame whose end is on its way (coalesce.go)

	// flate is set, before the connection runs, when it negotiated
	// permessage-deflate: coder then writes its data frames too.
	flate bool

	// peerClosed is set once a valid close frame from the client has been
	// read: the client sends nothing after it, so Close need not linger.
	peerClosed atomic.Bool

	cause     atomic.Int32 // a Cause the wire layer detected
	readEnded atomic.Bool  // see endReads
	cut       atomic.Bool  // a read from the socket failed (see truncated)
	aborted   atomic.Bool
	lingering atomic.Bool // Close is draining: the idle deadline must not be re-armed
	closeOnce sync.Once
	closeErr  error
}

func newWireConn(nc net.Conn, pending []byte, limit int64, readTimeout, writeTimeout time.Duration) *wireConn {
	c := &wireConn{
		Conn:         nc,
		start:        time.Now(),
		readTimeout:  readTimeout,
		writeTimeout: writeTimeout,
		pending:      pending,
		inspect:      true,
		scan:         frameScanner{limit: limit},
	}
	// net/http may have left deadlines of its own on the socket.
	var rd, wd time.Time
	if readTimeout > 0 {
		rd = c.start.Add(readTimeout)
	}
	if writeTimeout > 0 {
		wd = c.start.Add(writeTimeout)
	}
	c.writeArmed = wd
	_ = nc.SetReadDeadline(rd)
	_ = nc.SetWriteDeadline(wd)
	if sc, ok := nc.(syscall.Conn); ok && rawIO {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw, c.fillFn = raw, c.fill
		}
	}
	return c
}

// detected returns the cause the wire layer saw, or 0.
func (c *wireConn) detected() Cause { return Cause(c.cause.Load()) }

func (c *wireConn) setCause(cause Cause) { c.cause.CompareAndSwap(0, int32(cause)) }

// idleLeft returns how long the client may still stay silent before the
// idle timeout, and false when there is none (Options.ReadTimeout
// negative, or spent by a close).
func (c *wireConn) idleLeft(now time.Time) (time.Duration, bool) {
	if c.readTimeout <= 0 {
		return 0, false
	}
	return c.readTimeout - c.idleFor(now), true
}

// idleFor returns how long nothing has been read.
func (c *wireConn) idleFor(now time.Time) time.Duration {
	return now.Sub(c.start) - time.Duration(c.lastRead.Load())
}

// endReads makes every later Read report io.EOF. After a framing error
// (or a message over the limit) the rest of the stream cannot be parsed, so
// the close handshake must not wait for the client's close frame: the
// connection is failed (RFC 6455, section 7.1.7). Close still lingers, so
// the client reads the close frame already written.
func (c *wireConn) endReads() { c.readEnded.Store(true) }

// truncated reports whether the stream from the client ended or failed.
// coder reports a message whose connection ended at a frame boundary (or
// before any byte of a payload) as complete, with io.EOF; the bytes of a
// complete message never need a read past them, so a message that ends
// after the stream did is cut short.
func (c *wireConn) truncated() bool { return c.cut.Load() }

// Read implements net.Conn for coder's bufio.Reader.
func (c *wireConn) Read(p []byte) (int, error) {
	c.reading.Add(1) // before readEnded is looked at (see linger)
	defer c.reading.Add(-1)
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.readEnded.Load() {
			return 0, io.EOF
		}
		if err := c.failNext; err != nil {
			c.failNext = nil
			return 0, err
		}
		if len(c.ready) > 0 {
			n := copy(p, c.ready)
			c.ready = c.ready[n:]
			return n, nil
		}
		if c.rateOver {
			// The stream was cut mid-frame: a close handshake that reads
			// before endReads must fail, not parse what follows.
			return 0, errRateLimit
		}
		n, err := c.readRaw(p)
		if err != nil {
			c.cut.Store(true)
		}
		var over []byte // read, but over the byte rate: never handed to coder
		if n > 0 && c.rate != nil {
			if k := c.rate.allowBytes(time.Now(), n); k < n {
				// Hand coder what the budget allows, then the error. The
				// read loop reads c.rate outside coder's read lock
				// (limitMessage), so it stays set.
				over = p[k:n]
				n, c.rateOver, c.failNext = k, true, errRateLimit
				c.setCause(CauseRateLimit)
			}
		}
		if n > 0 {
			if c.inspect {
				n = c.inspectBytes(p[:n])
			} else {
				c.follow(p[:n])
			}
		}
		if len(over) > 0 {
			c.follow(over)
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// readRaw reads from the bytes buffered before the hijack, then those
// awaitData read, then the socket, re-arming the idle deadline only when
// it fires early.
func (c *wireConn) readRaw(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(c.bound(p, c.pending), c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if len(c.unread) > 0 {
		return c.takeUnread(c.bound(p, c.unread)), nil
	}
	if err := c.unreadErr; err != nil {
		return 0, err
	}
	for {
		n, err := c.readSocket(p)
		if n > 0 {
			c.lastRead.Store(int64(time.Since(c.start)))
			return n, err
		}
		if err == nil || c.readTimeout <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) || c.aborted.Load() || c.lingering.Load() {
			return n, err
		}
		now := time.Now()
		if left, _ := c.idleLeft(now); left > 0 {
			_ = c.Conn.SetReadDeadline(now.Add(left))
			continue
		}
		c.setCause(CauseIdle)
		c.readTimeout = 0
		_ = c.Conn.SetReadDeadline(now.Add(closeGrace))
		return 0, errIdle
	}
}

// readSocket reads from the socket. A read into coder's small buffer
// goes, with a RawConn, through a pooled buffer taken only once the socket
// has bytes: a read takes up to readChunk or bigChunk bytes at once (several
// pipelined messages), and a wait holds no buffer.
func (c *wireConn) readSocket(p []byte) (int, error) {
	if c.raw == nil || len(p) >= readChunk {
		return c.Conn.Read(p)
	}
	if err := c.raw.Read(c.fillFn); err != nil {
		return 0, err
	}
	if len(c.unread) == 0 {
		return 0, c.unreadErr
	}
	return c.takeUnread(c.bound(p, c.unread)), nil
}

// bound shortens p, a read of the buffered bytes src, so that coder is
// not handed bytes past the end of a message where readFrame may read the
// next one (readframe.go).
func (c *wireConn) bound(p, src []byte) []byte {
	if !c.inspect || len(c.held) > 0 || !c.fastReads() {
		return p
	}
	return p[:c.scan.messageEnd(src[:min(len(src), len(p))])]
}

// readChunk is the size of the pooled buffers fill reads into, the
// smallest read that goes straight into the caller's buffer (readSocket),
// and the least a payload's buffer grows by (readPayload).
const readChunk = 4096

// bigChunk is the size of the pooled buffers fill reads into once the
// connection's last message read was larger than readChunk (bigReads): a
// 16 KiB message and its header then come in one read(2), not a first
// 4 KiB and then the rest, and readFrame unmasks the payload as it copies
// it out. Small messages keep small buffers: sync.Pool drops its buffers
// at every other garbage collection, and a server that allocates much
// (opening and closing connections, say) would otherwise allocate 32 KiB
// for many a read.
const bigChunk = 32 << 10

// The pools of fill's buffers, of readChunk and bigChunk bytes. A buffer is
// held only while it has bytes not yet handed on, never during a wait.
var (
	readBufs    = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}
	bigReadBufs = sync.Pool{New: func() any { b := make([]byte, bigChunk); return &b }}
)

// getReadBuf takes a buffer for fill: of bigChunk bytes when big is set.
func getReadBuf(big bool) *[]byte {
	if big {
		return bigReadBufs.Get().(*[]byte)
	}
	return readBufs.Get().(*[]byte)
}

// putReadBuf returns a buffer of fill's to its pool.
func putReadBuf(b *[]byte) {
	if cap(*b) == bigChunk {
		bigReadBufs.Put(b)
	} else {
		readBufs.Put(b)
	}
}

// awaitData waits, on the read loop's shallow stack, until the client
// sends something, and reads it into a pooled buffer that Read hands out.
// An idle connection thus waits with no read buffer and without going
// down coder's read path, which would grow its goroutine's stack (an idle
// connection's largest cost). It returns at once when bytes are buffered
// here, when a Read is under way (coder's close handshake), and without a
// RawConn (TLS); on a deadline, close or error the Read that follows meets
// the same condition and reports it.
//
// serve calls it before the first message, and nextFast before each
// message readFrame may read, so that a connection waiting for its next
// message holds no message buffer either. coder's bufio.Reader then
// holds no bytes awaitData would wait in front of: before the first
// message it has read nothing, and later it is never handed bytes past
// the end of a message (readframe.go); a close handshake that has read
// some has also read the client's close frame, which ends inspect.
//
// It reports whether what it read starts with a close frame, and, when
// parkAfter is positive, whether the client sent nothing for that long
// (the idle deadline further off): the caller may then park the
// connection, or wait again with a parkAfter of 0.
func (c *wireConn) awaitData(parkAfter time.Duration) (closeNext, idle bool) {
	if c.raw == nil || !c.rmu.TryLock() {
		return false, false
	}
	c.reading.Add(1) // see linger
	if c.nothingBuffered() {
		if parkAfter > 0 && c.shortenWait(parkAfter) {
			err := c.raw.Read(c.fillFn)
			idle = errors.Is(err, os.ErrDeadlineExceeded) && len(c.unread) == 0 && c.unreadErr == nil
			c.rearmIdle()
		} else {
			_ = c.raw.Read(c.fillFn) // fill cannot panic: no defer, for a smaller frame
		}
	}
	closeNext = len(c.pending) == 0 && c.scan.atFrameStart() && len(c.unread) > 0 && c.unread[0]&0x0f == 0x8
	c.reading.Add(-1)
	c.rmu.Unlock()
	return closeNext, idle
}

// shortenWait moves the read deadline to parkAfter from now, unless the
// idle deadline comes first, and reports whether it did.
func (c *wireConn) shortenWait(parkAfter time.Duration) bool {
	now := time.Now()
	if left, ok := c.idleLeft(now); ok && left <= parkAfter {
		return false
	}
	return c.Conn.SetReadDeadline(now.Add(parkAfter)) == nil
}

// rearmIdle puts back the idle deadline after shortenWait. A close that
// started meanwhile (it sets lingering, then its own deadline) keeps a
// deadline of its own length.
func (c *wireConn) rearmIdle() {
	if c.lingering.Load() || c.aborted.Load() {
		return
	}
	now := time.Now()
	var rd time.Time
	if left, ok := c.idleLeft(now); ok {
		rd = now.Add(left)
	}
	_ = c.Conn.SetReadDeadline(rd)
	if c.lingering.Load() {
		_ = c.Conn.SetReadDeadline(now.Add(lingerTimeout))
	}
}

// nothingBuffered reports whether the wire layer holds no byte from the
// client and is at a frame boundary, with reads going on: a wait for the
// socket (awaitData, park) is then a wait for the client. rmu is held.
func (c *wireConn) nothingBuffered() bool {
	return len(c.pending) == 0 && len(c.unread) == 0 && c.unreadErr == nil && len(c.ready) == 0 && len(c.held) == 0 &&
		c.failNext == nil && !c.rateOver && c.inspect && c.scan.atFrameStart() &&
		!c.readEnded.Load() && !c.lingering.Load() && !c.aborted.Load()
}

// parkClosed is wireConn.parkKey once the connection is closing.
const parkClosed = ^uint64(0)

// fill is awaitData's RawConn callback: it reads what the socket has into
// a pooled buffer, and reports false (wait) when it has nothing.
func (c *wireConn) fill(fd uintptr) bool {
	buf := getReadBuf(c.bigReads)
	for {
		n, err := sysRead(fd, *buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			putReadBuf(buf)
			return false
		case err != nil:
			c.unreadErr = &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0:
			c.unreadErr = io.EOF
		default:
			c.lastRead.Store(int64(time.Since(c.start)))
			c.unread, c.unreadBuf = (*buf)[:n], buf
			return true
		}
		putReadBuf(buf)
		return true
	}
}

// takeUnread copies what it can of unread into p, and returns the pooled
// buffer once unread is empty.
func (c *wireConn) takeUnread(p []byte) int {
	n := copy(p, c.unread)
	c.unread = c.unread[n:]
	if len(c.unread) == 0 {
		c.dropUnread()
	}
	return n
}

// dropUnread returns unread's pooled buffer once it is empty.
func (c *wireConn) dropUnread() {
	if c.unreadBuf != nil {
		putReadBuf(c.unreadBuf)
	}
	c.unread, c.unreadBuf = nil, nil
}

// inspectBytes runs the frame scanner over b, which was just read into the
// caller's buffer, and returns how many of its bytes coder may see now. The
// rest is kept in held (an incomplete close frame) or ready (bytes after a
// violation, handed over once the error has been).
func (c *wireConn) inspectBytes(b []byte) int {
	if len(c.held) > 0 {
		c.held = append(c.held, b...)
		c.checkHeld()
		return 0
	}
	i, verdict := c.scan.feed(b)
	switch verdict {
	case scanHoldClose:
		c.held = append(c.held[:0], b[i:]...)
		c.checkHeld()
	case scanTooBig:
		c.setCause(CauseTooBig)
		c.failNext = errTooBig
		c.ready = append([]byte(nil), b[i:]...)
		c.inspect = false
		c.follow(b[i:])
	}
	return i
}

// follow moves the scanner's cursor over bytes read from the socket that
// were not inspected, or adds them to an incomplete close frame held.
func (c *wireConn) follow(b []byte) {
	if len(c.held) > 0 {
		c.held = append(c.held, b...)
		return
	}
	c.scan.frameCursor.feed(b)
}

// checkHeld validates a held close frame once it is complete and releases it.
func (c *wireConn) checkHeld() {
	payload, complete := closePayload(c.held)
	if !complete {
		return
	}
	if len(payload) > 2 && !utf8.Valid(payload[2:]) {
		c.setCause(CauseProtocol)
		c.failNext = errCloseReason
	} else {
		c.peerClosed.Store(true)
	}
	c.scan.frameCursor.feed(c.held)
	c.ready, c.held = c.held, nil
	c.inspect = false // nothing may follow a close frame
}

// closePayload returns the unmasked payload of the close frame at the start
// of b and whether all of it is there. A payload that coder rejects by
// itself (over 125 bytes) counts as complete and empty.
func closePayload(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n := int(b[1] & 0x7f)
	masked := b[1]&0x80 != 0
	if n > 125 {
		return nil, true
	}
	hdr := 2
	if masked {
		hdr += 4
	}
	if len(b) < hdr+n {
		return nil, false
	}
	payload := make([]byte, n)
	copy(payload, b[hdr:hdr+n])
	if masked {
		key := b[2:6]
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return payload, true
}

// Write implements net.Conn for coder's bufio.Writer. A write fails when
// the client has taken no bytes for writeTimeout.
func (c *wireConn) Write(p []byte) (int, error) {
	if !c.coderHolds {
		c.wmu.Lock()
		c.coderHolds = true
	}
	free, err := c.coderWrite(p)
	if err != nil || free {
		c.coderHolds = false
		c.wmu.Unlock()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// coderWrite writes (or holds) p for Write and reports whether coder's
// writes now end where another writer may write. wmu is held.
func (c *wireConn) coderWrite(p []byte) (free bool, err error) {
	if c.writeErr != nil {
		return false, c.writeErr
	}
	if c.closeSent && c.outFrames.atFrameStart() {
		return false, net.ErrClosed // after answerClose's close frame, which coder does not know of
	}
	if err := c.flushRest(); err != nil {
		c.writeErr = err
		return false, err
	}
	free = c.followOut(p)
	hold := !c.outFrames.atFrameStart()
	if c.heldOut == nil && !hold {
		err = c.writeOut(p, nil)
	} else {
		err = c.coalesce(p, hold)
	}
	if err != nil {
		c.writeErr = err
	}
	return free, err
}

// followOut moves outFrames over p, bytes coder writes, and reports
// whether they end where another writer may write: at the end of a frame,
// and not inside a fragmented message. wmu is held.
func (c *wireConn) followOut(p []byte) bool {
	for i := 0; i < len(p); {
		var header bool
		if i, header = c.outFrames.advance(p, i); header {
			switch op := c.outFrames.hdr[0] & 0x0f; {
			case op == 0x8:
				c.closeSent = true
			case op < 0x8: // text, binary or continuation
				c.fragmented = c.outFrames.hdr[0]&0x80 == 0
			}
		}
	}
	return c.outFrames.atFrameStart() && !c.fragmented
}

// writeOut writes p, or when bufs is not nil the bytes of bufs (which it
// consumes), failing when the client has taken no bytes for writeTimeout.
// wmu is held.
func (c *wireConn) writeOut(p []byte, bufs *net.Buffers) error {
	var progress time.Time
	if c.writeTimeout > 0 {
		progress = time.Now()
		if c.writeArmed.Before(progress) {
			c.writeArmed = progress.Add(c.writeTimeout)
			_ = c.Conn.SetWriteDeadline(c.writeArmed)
		}
	}
	for {
		var n int64
		var err error
		if bufs == nil {
			var k int
			k, err = c.Conn.Write(p)
			p, n = p[k:], int64(k)
		} else if n, err = bufs.WriteTo(c.Conn); err == nil && len(*bufs) > 0 {
			err = io.ErrShortWrite
		}
		if err == nil {
			return nil
		}
		if c.writeTimeout <= 0 || !errors.Is(err, os.ErrDeadlineExceeded) || c.aborted.Load() {
			return err
		}
		now := time.Now()
		if n > 0 {
			progress = now
		}
		if now.Sub(progress) >= c.writeTimeout {
			c.setCause(CauseSlow)
			c.abort()
			return err
		}
		c.writeArmed = progress.Add(c.writeTimeout)
		_ = c.Conn.SetWriteDeadline(c.writeArmed)
	}
}

// abort closes the socket at once, without lingering; it also cuts short a
// linger already under way.
func (c *wireConn) abort() {
	c.aborted.Store(true)
	c.wakeParked() // before the socket closes: park_linux.go
	_ = c.Conn.Close()
	_ = c.Close()
}

// Close sends FIN, then discards what the client still sends (bounded in
// time and bytes, see linger) before closing, so that a close frame written
// just before is read by the client rather than lost to a reset. After the
// client's own close frame nothing more comes, and Close closes at once.
func (c *wireConn) Close() error {
	c.closeOnce.Do(func() {
		c.wakeParked() // before the socket closes: park_linux.go
		if tcp, ok := c.Conn.(interface{ CloseWrite() error }); ok && !c.aborted.Load() && !c.peerClosed.Load() {
			if tcp.CloseWrite() == nil {
				c.lingering.Store(true)
				c.linger()
			}
		}
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// lingerBufs holds the buffers lingers discard into: an idle connection
// holds none.
var lingerBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// linger discards what the client still sends, until EOF, lingerBytes or
// lingerTimeout; an abort (which closes the socket) cuts it short.
//
// When the reads have ended (after a violation: endReads) and no Read is
// under way, the stream is the linger's alone, and the scanner's cursor
// says where in it the reads stopped. The linger then follows the client's
// frames and stops after its close frame. If the client is in the middle
// of a frame (one over MaxMessageBytes, whose payload the server never
// reads), the rest of that frame is discarded too, bounded by drainBytes
// and drainTimeout: a client that writes the whole message before reading
// (browsers, Node) would otherwise have its data unread when the socket
// closes, and the reset that sends would throw away the close frame it has
// not read yet.
func (c *wireConn) linger() {
	limit, wait := int64(lingerBytes), lingerTimeout
	var seek *closeSeeker
	// Read adds to reading before it looks at readEnded, and readEnded is
	// looked at here before reading: a Read this misses sees readEnded
	// and returns at once, without touching the stream or the scanner.
	if c.readEnded.Load() && c.reading.Load() == 0 {
		seek = &closeSeeker{frameCursor: c.scan.frameCursor}
		if seek.feed(c.held) || seek.feed(c.pending) || seek.feed(c.unread) {
			return // the client's close frame is all read
		}
		if owed := seek.remaining; owed > 0 {
			limit, wait = min(owed+lingerBytes, drainBytes), drainTimeout
		}
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(wait))
	buf := lingerBufs.Get().(*[32 << 10]byte)
	defer lingerBufs.Put(buf)
	for limit > 0 {
		n, err := c.Conn.Read(buf[:min(limit, int64(len(buf)))])
		limit -= int64(n)
		if seek != nil && seek.feed(buf[:n]) || err != nil {
			return
		}
	}
}

// closeSeeker follows a client's frames to the end of its close frame.
type closeSeeker struct {
	frameCursor
	inClose bool
}

// feed consumes b and reports whether the client's close frame has ended
// in it.
func (s *closeSeeker) feed(b []byte) bool {
	for i := 0; i < len(b); {
		var header bool
		if i, header = s.advance(b, i); header && s.hdr[0]&0x0f == 0x8 {
			s.inClose = true
		}
		if s.inClose && s.atFrameStart() {
			return true
		}
	}
	return false
}

// scanVerdict is what the frame scanner found.
type scanVerdict int

const (
	scanOK        scanVerdict = iota
	scanHoldClose             // a close frame starts here: hold it until complete
	scanTooBig                // a data frame header announced more than the limit
)

// frameScanner follows client frame headers as the bytes pass, skipping
// payloads by arithmetic.
type frameScanner struct {
	frameCursor
	limit      int64
	msgLen     int64 // bytes announced so far for the current message
	compressed bool  // the current message is compressed (its limit is coder's)
}

// feed scans b and returns the index at which the scan stopped and why.
// With scanOK the index is len(b).
func (s *frameScanner) feed(b []byte) (int, scanVerdict) {
	i := 0
	for i < len(b) {
		if s.atFrameStart() && b[i]&0x0f == 0x8 {
			return i, scanHoldClose
		}
		var header bool
		if i, header = s.advance(b, i); header && s.headerDone() {
			return i, scanTooBig
		}
	}
	return i, scanOK
}

func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// headerDone records a complete header and reports whether the message it
// belongs to now announces more than the limit.
func (s *frameScanner) headerDone() bool {
	length := s.remaining
	switch s.hdr[0] & 0x0f {
	case 0x1, 0x2:
		s.msgLen, s.compressed = length, s.hdr[0]&0x40 != 0
	case 0x0:
		if s.msgLen > 1<<62 || length > 1<<62 {
			s.msgLen = 1 << 62
		} else {
			s.msgLen += length
		}
	default:
		return false
	}
	return s.limit > 0 && !s.compressed && s.msgLen > s.limit
}

// payloadLen returns the payload length a complete frame header announces
// (a 64-bit length with its top bit set, invalid, counts as the largest).
func payloadLen(hdr []byte) int64 {
	switch l := hdr[1] & 0x7f; l {
	case 126:
		return int64(binary.BigEndian.Uint16(hdr[2:4]))
	case 127:
		if hdr[2]&0x80 != 0 {
			return 1<<63 - 1
		}
		return int64(binary.BigEndian.Uint64(hdr[2:10]))
	default:
		return int64(l)
	}
}

// hijacker wraps the ResponseWriter handed to websocket.Accept so that coder
// gets a wireConn under its reader and writer.
type hijacker struct {
	http.ResponseWriter
	srv  *Server // makes the wireConn (Server.newWireConn)
	conn *wireConn
	rw   bufio.ReadWriter // what Hijack returns: one allocation fewer
}

// Hijack takes over the connection from net/http.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		pending = append([]byte(nil), b...)
	}
	h.conn = h.srv.newWireConn(nc, pending)
	// net/http's 4 KiB buffers are dropped for smaller ones: they are held
	// by every idle connection, and the wire layer's coalescing makes a
	// small write buffer cost no extra syscalls.
	h.rw.Reader = bufio.NewReaderSize(h.conn, readBufferSize)
	h.rw.Writer = bufio.NewWriterSize(h.conn, writeBufferSize)
	return h.conn, &h.rw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
