package events

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/wire"
)

// Limits of an events connection.
const (
	// maxQueued messages wait for the worker; the next one waits in the
	// read loop, which stops reading the socket meanwhile.
	maxQueued = 16
	// floodBurst bad messages are tolerated at once, one more per
	// floodEvery; past that the connection is closed with 1008.
	floodBurst = 10
	floodEvery = time.Second
	// DefaultTimeout bounds Request when ctx has no deadline.
	defaultTimeout = 10 * time.Second
)

// conns finds the state of an events connection from its *framework.Conn,
// for Request; an entry lives from OnOpen to the end of OnClose.
var conns sync.Map // *framework.Conn -> *conn

// conn is the protocol's state of one events connection. Its worker
// goroutine, started when there is work and gone when there is none, runs
// the app's code (hooks and events) one job at a time, in order, so that
// the read loop, which routes replies to Request, never waits for it.
type conn struct {
	c     *framework.Conn
	known func(event string) bool        // whether the route declares event
	run   func(env *wire.Envelope) error // handles one event, on the worker
	slots chan struct{}                  // one token per queued message
	// unrecovered runs H's OnUnrecovered, or is nil without it.
	unrecovered func(room string, reason history.Reason) error

	mu      sync.Mutex
	jobs    []job
	urgent  int                           // jobs at the head of jobs put there by pushUrgent
	running bool                          // a worker is running
	pending map[int64]chan *wire.Envelope // Request's waiters, by id; nil before the first
	lastID  int64
	closed  bool    // OnClose has started: no new request
	tokens  float64 // the flood bucket
	filled  time.Time

	failed bool // a job closed the connection: only the final one runs (worker only)
}

// job is one piece of the app's work.
type job struct {
	run   func() error
	slot  bool // holds a token of slots
	final bool // OnClose: runs even after a failure
}

func newConn(c *framework.Conn, known func(string) bool, run func(*wire.Envelope) error) *conn {
	s := &conn{c: c, known: known, run: run, slots: make(chan struct{}, maxQueued),
		tokens: floodBurst, filled: time.Now()}
	conns.Store(c, s)
	return s
}

// receive handles one text message, on the read loop.
func (s *conn) receive(text string) error {
	env, err := wire.Decode([]byte(text))
	if err != nil {
		return s.clientError(0, err.(*wire.Error))
	}
	if env.Reply != 0 {
		s.mu.Lock()
		ch := s.pending[env.Reply]
		delete(s.pending, env.Reply)
		s.mu.Unlock()
		if ch != nil {
			ch <- env // buffered; a late reply finds no waiter and is dropped
		}
		return nil
	}
	if !s.known(env.Event) {
		return s.clientError(env.ID, &wire.Error{Code: wire.CodeUnknownEvent,
			Message: "unknown event " + quote(env.Event), Event: env.Event})
	}
	if !s.enqueue(func() error { return s.run(env) }) {
		return errRefused
	}
	return nil
}

// clientError answers a client's mistake (id 0: not a request), unless
// the client has made too many: then it closes the connection with 1008
// and returns errRefused.
func (s *conn) clientError(id int64, e *wire.Error) error {
	if !s.takeToken() {
		evhook.Refuse(s.c, int(websocket.StatusPolicyViolation), "too many bad messages")
		return errRefused
	}
	s.send(wire.EncodeError(id, e))
	return nil
}

// takeToken takes a token from the flood bucket.
func (s *conn) takeToken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tokens = min(floodBurst, s.tokens+now.Sub(s.filled).Seconds()/floodEvery.Seconds())
	s.filled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// send writes an envelope; a failure means the connection is ending,
// which the read loop sees.
func (s *conn) send(b []byte) {
	_ = s.c.SendText(s.c.Context(), string(b))
}

// enqueue queues work for the worker, waiting (and so holding up the read
// loop) while maxQueued messages wait. It reports false when the
// connection ended meanwhile.
func (s *conn) enqueue(run func() error) bool {
	select {
	case s.slots <- struct{}{}:
	default:
		if !s.waitSlot() {
			return false
		}
	}
	s.push(job{run: run, slot: true})
	return true
}

// waitSlot waits for room in the queue or for the connection's end (a
// close started by the worker does not cancel the connection's context
// until its handshake is over, hence the polling).
func (s *conn) waitSlot() bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case s.slots <- struct{}{}:
			return true
		case <-s.c.Context().Done():
			return false
		case <-tick.C:
			if !s.c.Connected() {
				return false
			}
		}
	}
}

// push adds a job and starts the worker if none runs.
func (s *conn) push(j job) {
	s.mu.Lock()
	s.jobs = append(s.jobs, j)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.work()
	}
}

// pushUrgent adds a job ahead of the work queued but after the other
// urgent ones, unless the connection is closing, and reports whether it
// did.
func (s *conn) pushUrgent(j job) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.jobs = slices.Insert(s.jobs, s.urgent, j)
	s.urgent++
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.work()
	}
	return true
}

// unrecoveredHook is evhook.Unrecovered: H's OnUnrecovered for c, on its
// worker ahead of its queued work, then resume.
func unrecoveredHook(c any, room string, reason history.Reason, resume func()) bool {
	v, ok := conns.Load(c)
	if !ok {
		return false
	}
	s := v.(*conn)
	if s.unrecovered == nil {
		return false
	}
	return s.pushUrgent(job{run: func() error {
		if err := s.unrecovered(room, reason); err != nil {
			return err
		}
		resume()
		return nil
	}})
}

func init() { evhook.Unrecovered = unrecoveredHook }

// work runs the queued jobs, and returns when there are none.
func (s *conn) work() {
	for {
		s.mu.Lock()
		if len(s.jobs) == 0 {
			s.jobs, s.running = nil, false // an idle connection keeps no queue
			s.mu.Unlock()
			return
		}
		j := s.jobs[0]
		s.jobs[0] = job{}
		s.jobs = s.jobs[1:]
		s.urgent = max(s.urgent-1, 0)
		s.mu.Unlock()
		s.do(j)
		if j.slot {
			<-s.slots
		}
	}
}

// do runs one job, closing the connection as the framework does for a
// hook that fails or panics.
func (s *conn) do(j job) {
	if s.failed && !j.final {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			s.failed = true
			evhook.Panicked(s.c, v)
		}
	}()
	if err := j.run(); err != nil {
		s.failed = true
		if !errors.Is(err, errRefused) {
			evhook.Fail(s.c, err)
		}
	}
}

// close ends the connection's state, on the read loop once it has
// stopped: the pending requests fail with framework.ErrClosed, and
// onClose runs after the work already queued; close waits for it.
func (s *conn) close(onClose func()) {
	s.mu.Lock()
	s.closed = true
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	done := make(chan struct{})
	s.push(job{final: true, run: func() error {
		defer close(done)
		onClose()
		return nil
	}})
	<-done
	conns.Delete(s.c)
}

// await registers a request and returns its id and the channel of its
// reply, which is closed if the connection ends first.
func (s *conn) await() (int64, chan *wire.Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, nil, false
	}
	if s.pending == nil {
		s.pending = make(map[int64]chan *wire.Envelope) // only once the server asks
	}
	s.lastID = s.lastID%wire.MaxID + 1
	ch := make(chan *wire.Envelope, 1)
	s.pending[s.lastID] = ch
	return s.lastID, ch, true
}

// forget drops a request that is no longer waited for.
func (s *conn) forget(id int64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}
