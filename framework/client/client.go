// Package client is a Go client of the nows event protocol (nows.v1, see
// docs/protocol.md), for services, bots and tests: events, requests with
// replies in both directions, and rooms, over one WebSocket that comes
// back by itself when it drops.
//
// It has the semantics of nows.js: messages sent while disconnected wait
// in a bounded buffer and are sent at most once; requests in flight when
// the connection drops fail with [ErrDisconnected]; rooms joined are joined
// again after a reconnect, before the buffer is flushed. It depends on
// coder/websocket, framework/history (its positions, standard library
// only) and the standard library, never on the server.
//
// Rooms with history (the server's HubOptions.History) are recovered: the
// client keeps, in memory, the position of the last message it got from
// each room, and joins again after a reconnect with it, so that the
// server sends what it missed, within the room's window, before the live
// messages, each once and in order. [Client.OnRecovery] says, after each
// join, whether that worked. Text and binary messages sent to such a room
// (the server's nows.text and nows.binary) come to On("message") and
// On("binary") as they do in a room without history; the room they came
// to is not given to the handler.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/wire"
)

// Options configures a [Client]. The zero value is ready to use.
type Options struct {
	// Header is sent with every opening handshake (cookies, tokens).
	Header http.Header
	// MinDelay and MaxDelay bound the wait before a reconnect: the n-th
	// attempt in a row (from 0) waits a random time up to min(MaxDelay,
	// MinDelay·2^n); a connection that stayed up 5 s starts the count
	// again. Defaults 250 ms and 30 s.
	MinDelay, MaxDelay time.Duration
	// NoRetryCodes are close codes after which the client does not
	// reconnect, added to 1002, 1003, 1007, 1008 and 1009: the app's own
	// 4xxx codes that mean "go away".
	NoRetryCodes []websocket.StatusCode
	// BufferSize bounds the messages kept while disconnected. Default 256.
	BufferSize int
	// Timeout bounds a request whose context has no deadline, a dial and
	// a write. Default 10 s.
	Timeout time.Duration
	// Logger receives the client's logs. Defaults to slog.Default().
	Logger *slog.Logger
}

// State is the state of a client's connection, reported to [Client.OnState].
type State int

// The states of a connection.
const (
	Connected    State = iota // connected, rooms joined and buffer flushed
	Disconnected              // the connection dropped; the error says why
	Reconnecting              // a new attempt starts; the error is the last one's
	Closed                    // no more attempts: a close code in the no-retry list
)

func (s State) String() string {
	switch s {
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	case Reconnecting:
		return "reconnecting"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

const (
	readLimit   = 1 << 20         // bytes in one message read
	stableAfter = 5 * time.Second // a connection up this long resets the backoff, as in nows.js
)

// Client is a connection to a nows events route that reconnects by
// itself. Its methods are safe for concurrent use. Call Close when done
// with it, also after it gave up (state Closed).
type Client struct {
	url  string
	opts Options
	log  *slog.Logger
	in   inbox

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	started  bool
	closed   bool            // Close called or gave up
	cur      *websocket.Conn // the connection, nil between two
	ready    bool            // cur has its rooms joined and the buffer flushed
	gen      int64           // number of cur
	buf      []outMsg
	calls    map[int64]*call
	nextID   int64
	rooms    []string
	pos      map[string]history.Position // of the last message got from a room with history
	events   map[string][]func(json.RawMessage)
	requests map[string]func(context.Context, json.RawMessage) (any, error)
	onState  func(State, error)
	onRecov  func(Recovery)
}

// outMsg is a message waiting for a connection.
type outMsg struct {
	frame []byte
	id    int64 // of a request, else 0
}

// call is a request waiting for its reply.
type call struct {
	ch   chan result  // nil for the client's own rejoins
	gen  int64        // connection it was written on, 0 while buffered
	then func(result) // runs under mu when the reply comes
}

type result struct {
	data json.RawMessage
	err  error
}

// New returns a client of the events route at url ("ws://host/path" or
// "wss://..."), not connected yet: register handlers with On, Handle and
// OnState, so that none of the server's first messages is missed, then
// call Connect. opts may be nil.
func New(url string, opts *Options) *Client {
	c := &Client{url: url, calls: map[int64]*call{}, pos: map[string]history.Position{},
		events:   map[string][]func(json.RawMessage){},
		requests: map[string]func(context.Context, json.RawMessage) (any, error){}}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	o.MinDelay = cmp(o.MinDelay, 250*time.Millisecond)
	o.MaxDelay = max(cmp(o.MaxDelay, 30*time.Second), o.MinDelay)
	o.Timeout = cmp(o.Timeout, 10*time.Second)
	if o.BufferSize <= 0 {
		o.BufferSize = 256
	}
	c.log = o.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.in.wake = make(chan struct{}, 1)
	return c
}

// cmp returns d, or def when d is not positive.
func cmp(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Dial is New then Connect: it returns once connected, or the error of
// the first attempt. Use New when the server may send a message the
// handlers must see as soon as the connection opens.
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	c := New(url, opts)
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Connect makes the first connection and returns its error: a bad URL, a
// refused connection, a handshake answered with another status than 101,
// or a server that did not choose the subprotocol nows.v1. After it, the
// client reconnects by itself until Close. Messages sent before Connect
// wait in the buffer. Connect may be tried again after an error. A
// message over 1 MiB from the server drops the connection (and the
// client reconnects).
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.started:
		c.mu.Unlock()
		return errors.New("client: already connected")
	}
	c.mu.Unlock()
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed || c.started {
		c.mu.Unlock()
		conn.CloseNow()
		return ErrClosed
	}
	c.started = true
	c.wg.Add(2)
	c.mu.Unlock()
	go c.dispatch()
	s := c.begin(conn)
	go c.run(s)
	return nil
}

// dial opens one connection.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPHeader:   c.opts.Header,
		Subprotocols: []string{wire.Subprotocol},
	})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if conn.Subprotocol() != wire.Subprotocol {
		conn.Close(websocket.StatusProtocolError, "nows.v1 required")
		return nil, fmt.Errorf("client: %s did not choose the subprotocol %s", c.url, wire.Subprotocol)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// On adds fn to the handlers of the event named event; they run in the
// order added. Three names also carry what is not an event: "message" a
// plain text message (data is the text as a JSON string), "binary" a
// binary one (data is the bytes as a base64 JSON string, which
// json.Unmarshal turns back into a []byte), both also when they come to
// a room with history (as nows.text and nows.binary), and "error" an
// error the server sent about a message that was not a request, or a
// room refused when joined again after a reconnect (data is the error
// object; without a handler it is logged).
//
// All handlers, Handle's and OnState's run one at a time, in the order
// their messages came, on one goroutine; replies to requests are read
// apart, so a slow handler never delays a reply.
func (c *Client) On(event string, fn func(data json.RawMessage)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events[event] = append(c.events[event], fn)
}

// Handle sets fn as the answer to the server's requests named event (the
// server's events.Request). The reply carries what fn returns, or its
// error: an *Error keeps its code, message and field; another error is
// logged and the server sees the code "internal". A request without a
// handler is answered with the code "unknown_event". ctx ends with Close.
func (c *Client) Handle(event string, fn func(ctx context.Context, data json.RawMessage) (any, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[event] = fn
}

// OnState sets fn to be told of the connection's changes of [State], in
// order with the handlers. After Close it is not called.
func (c *Client) OnState(fn func(State, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onState = fn
}

// Emit sends the event named event with payload as its data (JSON; nil
// for none). While disconnected it is buffered and sent after the
// reconnect ([ErrBufferFull] when the buffer is full); a message is sent
// at most once: if the connection drops while it is written, Emit returns
// [ErrDisconnected]. An ended ctx stops Emit before it sends; the write
// itself is bounded by Options.Timeout.
func (c *Client) Emit(ctx context.Context, event string, payload any) error {
	frame, err := wire.EncodeEvent(event, 0, payload)
	if err != nil {
		return fmt.Errorf("client: %s: %w", event, err)
	}
	return c.send(ctx, outMsg{frame: frame})
}

// Request sends the request named event with payload as its data and
// waits for the reply, decoded into reply (a pointer, or nil to drop it).
// It waits until ctx's deadline, else Options.Timeout, then returns
// [ErrTimeout]. A failed reply is returned as an *Error with the server's
// code, message and field. A request made while disconnected waits in
// the buffer like Emit; one in flight when the connection drops returns
// [ErrDisconnected].
func (c *Client) Request(ctx context.Context, event string, payload, reply any) error {
	data, err := c.request(ctx, event, payload, nil)
	if err != nil || reply == nil {
		return err
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("client: reply to %s: %w", event, err)
	}
	return nil
}

// request sends a request and waits for its reply; then, if not nil,
// runs under mu when the reply comes.
func (c *Client) request(ctx context.Context, event string, payload any, then func(result)) (json.RawMessage, error) {
	cl := &call{ch: make(chan result, 1), then: then}
	id := c.register(cl)
	frame, err := wire.EncodeEvent(event, id, payload)
	if err != nil {
		c.forget(id)
		return nil, fmt.Errorf("client: %s: %w", event, err)
	}
	if err := c.send(ctx, outMsg{frame: frame, id: id}); err != nil {
		c.forget(id)
		return nil, err
	}
	wctx, cancel := c.timeout(ctx)
	defer cancel()
	select {
	case r := <-cl.ch:
		return r.data, r.err
	case <-wctx.Done():
		c.forget(id)
		if ctx.Err() == context.Canceled {
			return nil, ctx.Err()
		}
		return nil, ErrTimeout
	}
}

// register numbers a call and returns its id.
func (c *Client) register(cl *call) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	c.calls[c.nextID] = cl
	return c.nextID
}

// forget drops a call, and its message if still buffered.
func (c *Client) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.calls, id)
	c.buf = slices.DeleteFunc(c.buf, func(m outMsg) bool { return m.id == id })
}

// timeout returns ctx, bounded by Options.Timeout when it has no deadline.
func (c *Client) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.Timeout)
}

// Join joins room through the server's OnJoin; an error reply (code
// "forbidden" by default) is returned as an *Error. The client joins its
// rooms again by itself after each reconnect, with their positions, and
// waits for the replies before it sends what was buffered and reports
// Connected; a room refused then is forgotten and the refusal goes to
// On("error").
func (c *Client) Join(ctx context.Context, room string) error {
	_, err := c.request(ctx, "nows.join", wire.Join{Room: room}, func(r result) {
		if r.err != nil {
			return
		}
		if !slices.Contains(c.rooms, room) {
			c.rooms = append(c.rooms, room)
		}
		c.joined(room, r.data)
	})
	return err
}

// Leave leaves room; the client forgets it and its position at once, so
// it is not joined again after a reconnect.
func (c *Client) Leave(ctx context.Context, room string) error {
	c.mu.Lock()
	c.forgetRoom(room)
	c.mu.Unlock()
	_, err := c.request(ctx, "nows.leave", wire.Join{Room: room}, nil)
	return err
}

// forgetRoom drops room and its position. mu is held.
func (c *Client) forgetRoom(room string) {
	c.rooms = slices.DeleteFunc(c.rooms, func(r string) bool { return r == room })
	delete(c.pos, room)
}

// Close closes the connection with 1000, stops reconnecting, fails the
// requests waiting with [ErrClosed] and returns once no goroutine of the
// client is left: after the running handler returns, so a handler must
// not call it (it may start `go c.Close()`). Buffered messages are
// dropped. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = nil
	for id, cl := range c.calls {
		delete(c.calls, id)
		if cl.ch != nil {
			cl.ch <- result{err: ErrClosed}
		}
	}
	return nil
}
