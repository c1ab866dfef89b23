package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/coder/websocket"
)

// Conn is one WebSocket connection, handed to every hook. All its methods
// are safe to call from any goroutine, also after the connection has ended.
type Conn struct {
	srv    *Server
	route  *boundRoute
	ws     *websocket.Conn
	wire   *wireConn
	req    keptRequest // for Request (request.go)
	params *Params     // nil when the route has none
	hooks  hooks
	ctx    context.Context
	cancel context.CancelFunc
	// release uncounts the connection from the limits (connlimit.go) once
	// it has ended.
	release func()

	// closing holds the *CloseStatus of whoever started the close first.
	closing atomic.Pointer[CloseStatus]
	ended   atomic.Bool
	pinger  sync.WaitGroup
	timer   *time.Timer

	mu          sync.Mutex // guards pingStopped and re-arming timer
	pingStopped bool

	hs atomic.Pointer[connState] // rooms, user and send queue; made on first use (rooms.go)
}

// SendText sends a text message. text must be valid UTF-8. Options.WriteTimeout
// bounds the send, and so does ctx's deadline, whose expiry closes the
// connection; a send still queued behind broadcasts when ctx ends is dropped
// (ctx.Err(), the connection stays open).
func (c *Conn) SendText(ctx context.Context, text string) error {
	if !utf8.ValidString(text) {
		return fmt.Errorf("framework: SendText: text is not valid UTF-8")
	}
	return c.send(ctx, websocket.MessageText, unsafe.Slice(unsafe.StringData(text), len(text)))
}

// SendBinary sends a binary message. data may be reused once it returns.
func (c *Conn) SendBinary(ctx context.Context, data []byte) error {
	return c.send(ctx, websocket.MessageBinary, data)
}

// SendJSON sends v encoded as JSON in a text message.
func (c *Conn) SendJSON(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("framework: SendJSON: %w", err)
	}
	return c.send(ctx, websocket.MessageText, b)
}

func (c *Conn) send(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closing.Load() != nil {
		return ErrClosed
	}
	if queued, err := c.sendInOrder(ctx, typ, p); queued {
		if err == nil {
			c.observeData(EventSent, typ, len(p))
		}
		return err // behind broadcasts still queued (queue.go)
	}
	if err := c.write(ctx, typ, p); err != nil {
		if c.wire.detected() == CauseSlow {
			// The hook that sees this error must not turn it into a
			// handler error: the connection ended for the write timeout.
			c.abort(CloseStatus{Code: websocket.StatusAbnormalClosure, Cause: CauseSlow, Err: err})
		} else if isNetErr(err) && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			// The client is gone (reset, broken pipe): the connection
			// ended abnormally, whatever the hook does with this error.
			c.abort(CloseStatus{Code: websocket.StatusAbnormalClosure, Cause: CauseAbnormal, Err: err})
		}
		if c.closing.Load() != nil || errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return err
	}
	c.observeData(EventSent, typ, len(p))
	return nil
}

// write writes a message: nows writes its frame (frames.go), unless ctx
// has a deadline of its own, whose expiry coder's Write turns into the
// close of the connection, or the connection compresses.
func (c *Conn) write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	own := ctx != c.ctx && ctx.Done() != nil
	if !own && !c.wire.flate {
		return c.wire.writeMessage(typ, p)
	}
	if !own {
		ctx = context.Background() // coder is much faster with a ctx that has no Done
	}
	return c.ws.Write(ctx, typ, p)
}

// Close starts the close handshake with code and reason and waits for it
// (a few seconds at most); OnClose reports CauseClosed, later calls do
// nothing. A reason over 123 bytes is cut at a UTF-8 boundary; a code a
// close frame may not carry gets an error wrapping ErrBadCloseCode.
func (c *Conn) Close(code websocket.StatusCode, reason string) error {
	reason, err := checkClose(code, reason)
	if err != nil {
		return err
	}
	c.closeWith(CloseStatus{Code: code, Reason: reason, Cause: CauseClosed})
	return nil
}

// closeWith runs the close handshake unless one has already started.
func (c *Conn) closeWith(st CloseStatus) {
	if !c.closing.CompareAndSwap(nil, &st) {
		return
	}
	_ = c.ws.Close(st.Code, st.Reason)
	c.cancel() // the connection has ended: wake a hook that waits on its ctx
}

// abort ends the connection at once, without a handshake.
func (c *Conn) abort(st CloseStatus) {
	c.closing.CompareAndSwap(nil, &st)
	c.wire.abort()
	c.cancel()
}

// Connected reports whether the connection is open: no close has started.
func (c *Conn) Connected() bool { return c.closing.Load() == nil && !c.ended.Load() }

// RemoteAddr returns the client's address, "ip:port".
func (c *Conn) RemoteAddr() string { return c.req.remote }

// ConnectedAt returns when the connection was upgraded.
func (c *Conn) ConnectedAt() time.Time { return c.wire.start }

// Params returns the typed path parameters of the route.
func (c *Conn) Params() Params {
	if c.params == nil {
		return Params{}
	}
	return *c.params
}

// Route returns the full template of the route the connection matched.
func (c *Conn) Route() string { return c.route.full }

// Request returns the handshake request: its headers, query, cookies and
// TLS state. Its body is empty and its context is the connection's
// (Context).
func (c *Conn) Request() *http.Request { return c.req.request(c.ctx) }

// Subprotocol returns the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// Context returns the connection's context: cancelled when the connection
// ends or the server shuts down. Hooks receive it as their ctx.
func (c *Conn) Context() context.Context { return c.ctx }

// Unwrap returns the underlying github.com/coder/websocket connection. Do
// not read from it: the framework does.
func (c *Conn) Unwrap() *websocket.Conn { return c.ws }

// start runs OnOpen on the handshake's goroutine, then serves the
// connection on a goroutine of its own, which the server owns (Shutdown
// waits for it), so that net/http's goroutine for the request ends, and
// with it its deep stack and its 8 KiB of buffers, which every connection
// would otherwise keep.
//
// Until its first message, a connection waits in awaitData, on a stack as
// shallow as can be: its depth decides whether the goroutine fits in 2 KiB
// (and, through Go's adaptive initial stack size, whether new goroutines
// start with 2 KiB or 4 KiB). Where the platform allows it
// (park_linux.go), a connection still idle after parkAfter is parked: its
// goroutine ends, and resume serves it on a new one. Most clients send
// something, or close, well within parkAfter, and never pay for parking;
// the connections that stay idle, the ones whose memory matters, hold no
// goroutine. Reading a message grows the stack past what a wait in
// coder's Reader needs, and a stack that has grown keeps its size while
// idle, so from then on the wait is coder's: the same memory, and less
// time per message.
func (c *Conn) start() {
	c.startPing()
	st, ok := c.open() // ok while the connection runs; st: the final status
	go c.serve(st, ok)
}

// resume serves a parked connection once its socket is readable or its
// idle timeout has expired (a close resumes it itself: wakeParked).
func (c *Conn) resume(key uint64) {
	c.wire.unpark(key)
	c.serve(CloseStatus{}, true)
}

// serve waits for the first message (parking the connection if it stays
// idle), then runs the read loop.
func (c *Conn) serve(st CloseStatus, ok bool) {
	if ok {
		closeNext, idle := c.wire.awaitData(parkAfter) // netconn.go
		if idle {
			if c.park() {
				return // resume serves it
			}
			closeNext, _ = c.wire.awaitData(0)
		}
		if closeNext {
			growStack(0)
		}
	}
	c.run(st, ok)
}

// run runs the read loop, then OnClose, and lets the server forget the
// connection.
func (c *Conn) run(st CloseStatus, ok bool) {
	defer c.release()
	defer c.srv.untrack(c)
	for ok {
		st, ok = c.next()
	}
	c.finish(&st)
}

// open runs OnOpen, and returns the final status and false if the
// connection ends.
func (c *Conn) open() (CloseStatus, bool) {
	if c.hooks.open == nil {
		return CloseStatus{}, true
	}
	return c.call("OnOpen", func() error { return c.hooks.open.OnOpen(c.ctx, c) })
}

// next reads one message and dispatches it, and returns the final status
// and false if the connection ends. The status is a value: a pointer
// would move it to the heap, once per connection.
func (c *Conn) next() (CloseStatus, bool) {
	if c.wire.fastReads() && c.closing.Load() == nil {
		if st, ok, done := c.nextFast(); done { // readframe.go
			return st, ok
		}
	}
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return c.readFailed(err), false
	}
	st, ok := c.limitMessage() // ratelimit.go
	if ok {
		st, ok = c.handleMessage(typ, r)
	}
	return st, ok
}

// The runtime grows a goroutine's stack by copying it frame by frame: the
// deeper the call that overflows it, the more it costs. Where a stack is
// known to need more soon, it is grown first where it is shallow.

// growFrame is the frame of growStack: enough that, called from serve, it
// grows the stack to 8 KiB.
const growFrame = 4 << 10

// growStack grows the goroutine's stack before a close frame from the
// client is read: the close that follows (answered by readFrame, or by
// coder's close handling, which formats the close error through fmt, then
// the socket's close and OnClose) needs an 8 KiB stack. Grown deep in
// that path, the copy cost several microseconds per connection, here a
// fraction of that. The connection ends just after, and its stack with it.
//
//go:noinline
func growStack(i int) byte {
	var pad [growFrame]byte
	pad[i%growFrame] = 1
	return pad[(i*7)%growFrame]
}

// handshakeFrame is the frame of growHandshakeStack: enough that, called
// from serveHTTP, it grows the stack to 16 KiB.
const handshakeFrame = 8 << 10

// growHandshakeStack grows the handshake goroutine's stack before
// websocket.Accept: net/http's writing of the 101 response (it sorts the
// header's keys) overflows the stack the goroutine has, at the bottom of
// Accept, Hijack and the header writer. Grown there, the copy was about
// 7 % of the server's CPU per handshake; here, a few frames up, a
// fraction of that. The goroutine ends soon after the upgrade (serve runs
// on one of its own), and its stack with it.
//
//go:noinline
func growHandshakeStack(i int) byte {
	var pad [handshakeFrame]byte
	pad[i%handshakeFrame] = 1
	return pad[(i*7)%handshakeFrame]
}

// handleMessage reads one message into a pooled buffer (an idle connection
// holds none) and dispatches it.
func (c *Conn) handleMessage(typ websocket.MessageType, r io.Reader) (CloseStatus, bool) {
	buf := getBuffer()
	defer putBuffer(buf)
	var st CloseStatus
	var ok bool
	*buf, st, ok = c.readMessage((*buf)[:0], typ, r)
	if !ok {
		return st, false
	}
	c.observeData(EventReceived, typ, len(*buf))
	return c.dispatch(typ, *buf)
}

// readMessage reads one message into buf, checking text incrementally so
// that invalid UTF-8 closes the connection without waiting for the rest.
func (c *Conn) readMessage(buf []byte, typ websocket.MessageType, r io.Reader) ([]byte, CloseStatus, bool) {
	checked := 0
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if typ == websocket.MessageText {
			valid, bad := utf8Prefix(buf[checked:])
			checked += valid
			if bad || (err == io.EOF && checked != len(buf)) {
				return buf, c.fail(websocket.StatusInvalidFramePayloadData, "invalid UTF-8", CauseProtocol, nil), false
			}
		}
		if err == io.EOF && c.wire.truncated() {
			// coder ends a message with io.EOF when the connection ends
			// between two fragments: it was cut short, not complete.
			return buf, c.readFailed(io.ErrUnexpectedEOF), false
		}
		if err == io.EOF {
			return buf, CloseStatus{}, true
		}
		if err != nil {
			return buf, c.readFailed(err), false
		}
	}
}

// dispatch hands one message to its hook.
func (c *Conn) dispatch(typ websocket.MessageType, msg []byte) (CloseStatus, bool) {
	if typ == websocket.MessageText {
		if c.hooks.message == nil {
			return c.fail(websocket.StatusUnsupportedData, "text messages are not supported", CauseProtocol, nil), false
		}
		text := string(msg)
		return c.call("OnMessage", func() error { return c.hooks.message.OnMessage(c.ctx, c, text) })
	}
	if c.hooks.binary == nil {
		return c.fail(websocket.StatusUnsupportedData, "binary messages are not supported", CauseProtocol, nil), false
	}
	return c.call("OnBinary", func() error { return c.hooks.binary.OnBinary(c.ctx, c, msg) })
}

// call runs a hook, turning its error or panic into a close. Its frame
// and its deferred function's are kept small, the slow paths apart: it
// runs on the connection's goroutine, whose stack an idle connection
// keeps, and a stack that grew (past 2 KiB) does not shrink back.
func (c *Conn) call(name string, hook func() error) (st CloseStatus, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			st, ok = c.hookPanicked(v), false
		}
	}()
	var t0 time.Time
	if c.srv.opts.Observer != nil {
		t0 = time.Now()
	}
	err := hook()
	if !t0.IsZero() {
		c.observe(Event{Kind: EventHook, Hook: name, Duration: time.Since(t0)})
	}
	if err != nil {
		return c.hookFailed(err), false
	}
	return CloseStatus{}, true
}

// hookPanicked logs a hook's panic and closes the connection.
func (c *Conn) hookPanicked(v any) CloseStatus {
	c.srv.log.Error("nows: panic in handler", "route", c.route.full, "remote", c.req.remote,
		"panic", v, panicStack())
	return c.fail(websocket.StatusInternalError, "", CauseHandlerPanic, fmt.Errorf("panic: %v", v))
}

// hookFailed turns a hook's error into a close.
func (c *Conn) hookFailed(err error) CloseStatus {
	if cur := c.closing.Load(); cur != nil {
		// The hook's error comes from a close already under way.
		return *cur
	}
	if ce, ok := closeErrorOf(err); ok {
		reason, bad := checkClose(ce.Code, ce.Reason)
		if bad == nil {
			return c.fail(ce.Code, reason, CauseClosed, err)
		}
		err = fmt.Errorf("hook returned %w: %w", err, bad)
	}
	c.srv.log.Error("nows: handler error", "route", c.route.full, "remote", c.req.remote, "err", err)
	return c.fail(websocket.StatusInternalError, "", CauseHandlerError, err)
}

// fail closes the connection with a status chosen by the server and
// returns the status that wins (a close already under way wins).
func (c *Conn) fail(code websocket.StatusCode, reason string, cause Cause, err error) CloseStatus {
	c.closeWith(CloseStatus{Code: code, Reason: reason, Cause: cause, Err: err})
	return *c.closing.Load()
}

// readFailed turns a read error into the connection's final status.
func (c *Conn) readFailed(err error) CloseStatus {
	switch c.wire.detected() {
	case CauseTooBig:
		c.wire.endReads()
		return c.fail(websocket.StatusMessageTooBig, "message too big", CauseTooBig, nil)
	case CauseProtocol:
		return c.fail(websocket.StatusProtocolError, "invalid close reason", CauseProtocol, nil)
	case CauseIdle:
		return c.fail(websocket.StatusGoingAway, "idle timeout", CauseIdle, nil)
	case CauseRateLimit:
		c.wire.endReads() // the stream was cut mid-frame (ratelimit.go)
		return c.fail(websocket.StatusPolicyViolation, rateLimitReason, CauseRateLimit, nil)
	case CauseSlow:
		c.abort(CloseStatus{Code: websocket.StatusAbnormalClosure, Cause: CauseSlow, Err: err})
		return *c.closing.Load()
	}
	// In the two cases below the connection is closing or closed already;
	// finish, which follows at once, closes it and waits for the handshake
	// under way (one CloseNow: each costs a timer and a wrapped error).
	if cur := c.closing.Load(); cur != nil {
		return *cur
	}
	switch ce, peer := receivedClose(err); {
	case peer:
		st := CloseStatus{Code: websocket.StatusCode(ce.Code), Reason: ce.Reason, Cause: CausePeer}
		c.closing.CompareAndSwap(nil, &st)
		return st
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.wire.endReads()
		return c.fail(websocket.StatusMessageTooBig, "message too big", CauseTooBig, err)
	case isNetErr(err):
		c.abort(CloseStatus{Code: websocket.StatusAbnormalClosure, Cause: CauseAbnormal, Err: err})
		return *c.closing.Load()
	default:
		// coder has usually sent 1002 with its own reason already (not
		// for an unmasked frame); the stream cannot be parsed any more.
		c.wire.endReads()
		return c.fail(websocket.StatusProtocolError, "protocol error", CauseProtocol, err)
	}
}

// receivedClose finds the websocket.CloseError coder reports for the
// client's close frame, as errors.As would, without moving a target to the
// heap on every connection's last read.
func receivedClose(err error) (websocket.CloseError, bool) {
	for err != nil {
		switch e := err.(type) {
		case websocket.CloseError:
			return e, true
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if ce, ok := receivedClose(err); ok {
					return ce, true
				}
			}
			return websocket.CloseError{}, false
		}
		err = errors.Unwrap(err)
	}
	return websocket.CloseError{}, false
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// finish ends the connection: stops the keep-alive, cancels the context and
// runs OnClose.
func (c *Conn) finish(st *CloseStatus) {
	c.mu.Lock()
	c.pingStopped = true // no tick starts a ping, or re-arms the timer, after this
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	_ = c.ws.CloseNow()
	c.pinger.Wait()
	c.stopQueue()      // no broadcast is written once the connection has ended
	defer c.leaveHub() // after OnClose, which may still tell the rooms
	c.ended.Store(true)
	c.cancel()
	if c.srv.log.Enabled(context.Background(), slog.LevelDebug) {
		c.srv.log.Debug("nows: connection closed", "route", c.route.full, "remote", c.req.remote, "status", st.String())
	}
	c.observe(Event{Kind: EventClose, Code: st.Code, Cause: st.Cause, Duration: time.Since(c.wire.start)})
	if c.hooks.close != nil {
		defer func() {
			if v := recover(); v != nil {
				c.srv.log.Error("nows: panic in OnClose", "route", c.route.full, "panic", v, panicStack())
			}
		}()
		t0 := time.Now()
		c.hooks.close.OnClose(c, *st)
		c.observe(Event{Kind: EventHook, Hook: "OnClose", Duration: time.Since(t0)})
	}
}

// startPing arms the keep-alive timer when Options.PingInterval is set.
func (c *Conn) startPing() {
	every := c.srv.opts.PingInterval
	if every <= 0 {
		return
	}
	c.mu.Lock() // a tick may fire before the assignment, and reads c.timer
	defer c.mu.Unlock()
	c.timer = time.AfterFunc(every, c.pingTick)
}

// pingTick pings a connection that has been quiet for PingInterval and
// closes it when the pong is late.
func (c *Conn) pingTick() {
	if !c.pingStart() {
		return
	}
	defer c.pinger.Done()
	every := c.srv.opts.PingInterval
	if idle := c.wire.idleFor(time.Now()); idle < every {
		c.rearm(every - idle)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.opts.PongTimeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		if c.closing.Load() == nil {
			c.srv.log.Debug("nows: pong timeout", "route", c.route.full, "remote", c.req.remote)
			c.closeWith(CloseStatus{Code: websocket.StatusGoingAway, Reason: "pong timeout", Cause: CausePingTimeout, Err: err})
		}
		return
	}
	c.rearm(every)
}

// pingStart registers a tick with finish, which waits for it, unless the
// connection is ending. The lock orders it against finish: a tick never
// starts once finish has stopped waiting.
func (c *Conn) pingStart() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pingStopped || c.closing.Load() != nil {
		return false
	}
	c.pinger.Add(1)
	return true
}

// rearm schedules the next tick unless the connection is ending.
func (c *Conn) rearm(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pingStopped {
		c.timer.Reset(d)
	}
}

// utf8Prefix returns how many leading bytes of b are complete, valid UTF-8
// and whether an invalid sequence (not merely a truncated one at the end)
// was found.
func utf8Prefix(b []byte) (valid int, bad bool) {
	if utf8.Valid(b) {
		return len(b), false
	}
	// Common case: a chunk that ends inside a character.
	start := len(b) - 1
	for start > 0 && start > len(b)-utf8.UTFMax && !utf8.RuneStart(b[start]) {
		start--
	}
	if couldComplete(b[start:]) && utf8.Valid(b[:start]) {
		return start, false
	}
	for valid < len(b) {
		r, size := utf8.DecodeRune(b[valid:])
		if r == utf8.RuneError && size <= 1 {
			if couldComplete(b[valid:]) {
				return valid, false
			}
			return valid, true
		}
		valid += size
	}
	return valid, false
}

// couldComplete reports whether b, a truncated UTF-8 sequence, can still
// become a valid character when more bytes arrive (E0 80, for example,
// never can: it would be an overlong form).
func couldComplete(b []byte) bool {
	if len(b) == 0 || len(b) >= utf8.UTFMax {
		return false
	}
	lo, hi := byte(0x80), byte(0xbf)
	var need int
	switch lead := b[0]; {
	case lead >= 0xc2 && lead <= 0xdf:
		need = 2
	case lead >= 0xe0 && lead <= 0xef:
		need = 3
		if lead == 0xe0 {
			lo = 0xa0
		} else if lead == 0xed {
			hi = 0x9f
		}
	case lead >= 0xf0 && lead <= 0xf4:
		need = 4
		if lead == 0xf0 {
			lo = 0x90
		} else if lead == 0xf4 {
			hi = 0x8f
		}
	default:
		return false
	}
	if len(b) >= need {
		return false
	}
	for i, x := range b[1:] {
		if i == 0 && (x < lo || x > hi) || x < 0x80 || x > 0xbf {
			return false
		}
	}
	return true
}

// Message buffers are pooled; very large ones are dropped after use.
var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuffer = 256 << 10

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// panicStack returns the stack of a recovered panic as a group of frames,
// "function (file:line)", one attribute each, so that slog's text and
// JSON handlers both print it readably. Frames of the runtime and of
// this recovery are left out.
func panicStack() slog.Attr {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var attrs []any
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			attrs = append(attrs, slog.String(strconv.Itoa(len(attrs)), fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)))
		}
		if !more {
			break
		}
	}
	return slog.Group("stack", attrs...)
}
