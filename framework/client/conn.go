package client

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/internal/wire"
)

// session is one connection's life.
type session struct {
	conn  *websocket.Conn
	gen   int64
	start time.Time
	gone  chan struct{} // closed when the reader ends
	err   error         // the reader's error, once gone is closed
}

// send writes m on the ready connection, or buffers it.
func (c *Client) send(ctx context.Context, m outMsg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.ready {
		defer c.mu.Unlock()
		if len(c.buf) >= c.opts.BufferSize {
			return ErrBufferFull
		}
		c.buf = append(c.buf, m)
		return nil
	}
	conn := c.cur
	if cl := c.calls[m.id]; cl != nil {
		cl.gen = c.gen
	}
	c.mu.Unlock()
	// Not ctx: coder/websocket closes the connection when a write's
	// context ends, and one caller's deadline must not cut it for all.
	if err := c.write(c.ctx, conn, m.frame); err != nil {
		return ErrDisconnected
	}
	return nil
}

// write writes one text message, bounded by Options.Timeout.
func (c *Client) write(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	ctx, cancel := c.timeout(ctx)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, frame)
}

// begin starts a session on conn: its reader, the rejoins, then the
// flush of the buffer; the connection is ready after it.
func (c *Client) begin(conn *websocket.Conn) *session {
	c.mu.Lock()
	c.gen++
	s := &session{conn: conn, gen: c.gen, start: time.Now(), gone: make(chan struct{})}
	c.cur = conn
	rooms := make([]wire.Join, len(c.rooms))
	for i, room := range c.rooms {
		rooms[i] = wire.Join{Room: room, Since: c.since(room)}
	}
	c.mu.Unlock()
	go c.read(s)
	if c.rejoin(s, rooms) {
		c.flush(s)
	}
	return s
}

// rejoin joins rooms again on s, each with its position, and waits for
// the replies; false if the connection failed meanwhile. A room refused
// is forgotten.
func (c *Client) rejoin(s *session, rooms []wire.Join) bool {
	var calls []chan result
	for _, j := range rooms {
		cl := &call{ch: make(chan result, 1), gen: s.gen, then: func(r result) {
			var e *Error
			switch {
			case r.err == nil:
				c.joined(j.Room, r.data)
			case errors.As(r.err, &e) && e != ErrDisconnected:
				c.forgetRoom(j.Room)
				b, _ := json.Marshal(e)
				c.in.push(item{event: "error", data: b, err: e})
			}
		}}
		frame, _ := wire.EncodeEvent("nows.join", c.register(cl), j)
		if c.write(c.ctx, s.conn, frame) != nil {
			return false
		}
		calls = append(calls, cl.ch)
	}
	timeout := time.NewTimer(c.opts.Timeout)
	defer timeout.Stop()
	for _, ch := range calls {
		select {
		case <-ch:
		case <-s.gone:
			return false
		case <-timeout.C:
			return true // the server is slow: go on
		case <-c.ctx.Done():
			return false
		}
	}
	return true
}

// flush writes the buffer on s, then marks it ready. What could not be
// written stays buffered, but for the message whose write failed: it may
// have been sent, so it is dropped (at most once).
func (c *Client) flush(s *session) {
	for {
		c.mu.Lock()
		if len(c.buf) == 0 {
			c.ready = true
			c.mu.Unlock()
			c.notify(Connected, nil)
			return
		}
		m := c.buf[0]
		c.buf = c.buf[1:]
		if cl := c.calls[m.id]; cl != nil {
			cl.gen = s.gen
		}
		c.mu.Unlock()
		if c.write(c.ctx, s.conn, m.frame) != nil {
			return
		}
	}
}

// run keeps the client connected until Close or a no-retry close code.
func (c *Client) run(s *session) {
	defer c.wg.Done()
	attempt := 0
	for {
		err := c.wait(s)
		if c.ctx.Err() != nil {
			return
		}
		c.log.Info("nows client: connection lost", "url", c.url, "err", err)
		c.notify(Disconnected, err)
		if c.noRetry(err) {
			c.giveUp(err)
			return
		}
		if time.Since(s.start) >= stableAfter {
			attempt = 0
		}
		if s = c.reconnect(&attempt, err); s == nil {
			return
		}
	}
}

// wait waits for the end of s, and closes it on Close.
func (c *Client) wait(s *session) error {
	select {
	case <-s.gone:
	case <-c.ctx.Done():
		s.conn.Close(websocket.StatusNormalClosure, "")
		<-s.gone
	}
	err := s.err
	s.conn.CloseNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.ready = nil, false
	for id, cl := range c.calls {
		if cl.gen == s.gen && c.ctx.Err() == nil { // else Close fails them
			delete(c.calls, id)
			c.deliver(cl, result{err: ErrDisconnected})
		}
	}
	return err
}

// noRetry reports whether err closed the connection with a code after
// which the client must not reconnect.
func (c *Client) noRetry(err error) bool {
	switch code := websocket.CloseStatus(err); code {
	case websocket.StatusProtocolError, websocket.StatusUnsupportedData,
		websocket.StatusInvalidFramePayloadData, websocket.StatusPolicyViolation,
		websocket.StatusMessageTooBig:
		return true
	default:
		return code != -1 && slices.Contains(c.opts.NoRetryCodes, code)
	}
}

// giveUp ends the client after a no-retry close.
func (c *Client) giveUp(err error) {
	c.mu.Lock()
	c.closed = true
	c.buf = nil
	for id, cl := range c.calls {
		delete(c.calls, id)
		c.deliver(cl, result{err: ErrClosed})
	}
	c.mu.Unlock()
	c.log.Warn("nows client: not reconnecting", "url", c.url, "err", err)
	c.notify(Closed, err)
}

// reconnect dials until it succeeds, after a random wait that grows with
// *attempt; nil on Close.
func (c *Client) reconnect(attempt *int, err error) *session {
	for {
		ceil := ceiling(c.opts.MinDelay, c.opts.MaxDelay, *attempt)
		*attempt++
		t := time.NewTimer(rand.N(ceil + 1))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		c.notify(Reconnecting, err)
		var conn *websocket.Conn
		if conn, err = c.dial(c.ctx); err == nil {
			return c.begin(conn)
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.log.Debug("nows client: reconnect failed", "url", c.url, "err", err)
	}
}

// ceiling is the longest wait before the attempt-th reconnect in a row
// (from 0): min(hi, lo·2^attempt).
func ceiling(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for range attempt {
		if d >= hi/2 {
			return hi
		}
		d *= 2
	}
	return min(d, hi)
}

// deliver hands a reply to its call; mu is held.
func (c *Client) deliver(cl *call, r result) {
	if cl.then != nil {
		cl.then(r)
	}
	if cl.ch != nil {
		cl.ch <- r
	}
}

// read reads s until it ends: replies go to their calls at once, the
// rest to the handlers' queue.
func (c *Client) read(s *session) {
	for {
		typ, data, err := s.conn.Read(context.Background())
		if err != nil {
			s.err = err
			close(s.gone)
			return
		}
		if typ == websocket.MessageBinary {
			b, _ := json.Marshal(data)
			c.in.push(item{event: "binary", data: b})
			continue
		}
		c.route(s, data)
	}
}

// route routes one text message.
func (c *Client) route(s *session, text []byte) {
	env, err := wire.Decode(text)
	if err != nil {
		// Not an envelope, or the server's error about an event, which
		// has no reply to carry it.
		var only struct{ Error *Error }
		if json.Unmarshal(text, &only) == nil && only.Error != nil && only.Error.Code != "" {
			b, _ := json.Marshal(only.Error)
			c.in.push(item{event: "error", data: b, err: only.Error})
			return
		}
		b, _ := json.Marshal(string(text))
		c.in.push(item{event: "message", data: b})
		return
	}
	if env.Data == nil {
		env.Data = json.RawMessage("null")
	}
	switch {
	case env.Reply != 0:
		r := result{data: env.Data}
		if env.Error != nil {
			r = result{err: (*Error)(env.Error)}
		}
		c.mu.Lock()
		if cl := c.calls[env.Reply]; cl != nil {
			delete(c.calls, env.Reply)
			c.deliver(cl, r)
		}
		c.mu.Unlock()
	default:
		if !c.track(env) {
			c.in.push(item{event: appEvent(env.Event), id: env.ID, gen: s.gen, data: env.Data})
		}
	}
}

// notify queues a change of state for OnState.
func (c *Client) notify(st State, err error) {
	c.in.push(item{state: st, err: err, isState: true})
}

// item is one entry of the handlers' queue.
type item struct {
	event    string
	id       int64 // of a server's request
	gen      int64 // the connection it came on
	data     json.RawMessage
	isState  bool
	state    State
	err      error
	recovery *Recovery // for OnRecovery
}

// inbox is the handlers' queue: unbounded, so that reading never waits
// for a handler.
type inbox struct {
	mu    sync.Mutex
	items []item
	wake  chan struct{}
}

func (q *inbox) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// dispatch runs the handlers, one at a time, until Close.
func (c *Client) dispatch() {
	defer c.wg.Done()
	for {
		c.in.mu.Lock()
		items := c.in.items
		c.in.items = nil
		c.in.mu.Unlock()
		for _, it := range items {
			if c.ctx.Err() != nil {
				return
			}
			c.handle(it)
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.in.wake:
		}
	}
}

// handle runs the handlers of one item.
func (c *Client) handle(it item) {
	c.mu.Lock()
	onState, onRecov, fns, h := c.onState, c.onRecov, c.events[it.event], c.requests[it.event]
	c.mu.Unlock()
	switch {
	case it.isState:
		if onState != nil {
			onState(it.state, it.err)
		}
	case it.recovery != nil:
		if onRecov != nil {
			onRecov(*it.recovery)
		}
	case it.id != 0:
		c.answer(it, h)
	case it.event == "error" && it.err != nil && len(fns) == 0:
		c.log.Warn("nows client: error from the server", "err", it.err)
	default:
		for _, fn := range fns {
			fn(it.data)
		}
	}
}

// answer runs the handler of a server's request and writes the reply on
// the connection the request came on, if it is still up.
func (c *Client) answer(it item, h func(context.Context, json.RawMessage) (any, error)) {
	var frame []byte
	if h == nil {
		frame = wire.EncodeError(it.id, &wire.Error{Code: wire.CodeUnknownEvent,
			Message: "no handler for " + it.event, Event: it.event})
	} else if out, err := h(c.ctx, it.data); err != nil {
		frame = wire.EncodeError(it.id, c.replyError(it.event, err))
	} else if frame, err = wire.EncodeReply(it.id, out); err != nil {
		frame = wire.EncodeError(it.id, c.replyError(it.event, err))
	}
	c.mu.Lock()
	conn := c.cur
	if c.gen != it.gen {
		conn = nil
	}
	c.mu.Unlock()
	if conn != nil {
		_ = c.write(c.ctx, conn, frame)
	}
}

// replyError is the error a reply carries for err.
func (c *Client) replyError(event string, err error) *wire.Error {
	var e *Error
	if errors.As(err, &e) {
		out := wire.Error(*e)
		if out.Event == "" {
			out.Event = event
		}
		return &out
	}
	c.log.Error("nows client: request handler failed", "event", event, "err", err)
	return &wire.Error{Code: wire.CodeInternal, Message: "internal error", Event: event}
}
