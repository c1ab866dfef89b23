package framework

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/history"
)

// HubOptions configures a server's [Hub]: how it reaches the other nodes.
type HubOptions struct {
	// Broker carries broadcasts, disconnects and presence between
	// nodes. Defaults to nil: this server alone.
	Broker Broker

	// Node names this server in broker traffic and presence; it must be
	// unique among the nodes sharing a broker. Defaults to a random ID.
	Node string

	// PresenceInterval is how often a node tells the others it is alive;
	// one silent for 2.5 intervals leaves their presence. Defaults to 5 s.
	PresenceInterval time.Duration

	// PublishTimeout bounds one publish to the broker. Defaults to 2 s.
	PublishTimeout time.Duration

	// OutboxSize bounds the messages waiting for a slow or down broker;
	// more are dropped. Defaults to 8192.
	OutboxSize int

	// History keeps the rooms it names in a store (see history.Config).
	History history.Config
}

// The defaults of HubOptions.
const (
	defaultPresenceInterval = 5 * time.Second
	defaultPublishTimeout   = 2 * time.Second
	defaultOutboxSize       = 8192
)

func (o HubOptions) withDefaults() HubOptions {
	if o.Node == "" {
		o.Node = newNodeID()
	}
	setDefault(&o.PresenceInterval, defaultPresenceInterval)
	setDefault(&o.PublishTimeout, defaultPublishTimeout)
	setDefault(&o.OutboxSize, defaultOutboxSize)
	return o
}

func newNodeID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hub is a server's rooms, on every node that shares its [Broker]: who is
// in which room, broadcasts to them (once per member, through its send
// queue), disconnects. Get it with [Server.Hub] or [Conn.Hub]; safe for
// concurrent use.
type Hub struct {
	srv      *Server
	log      *slog.Logger
	opts     HubOptions
	broker   Broker
	counters hubCounters
	connSeq  atomic.Uint64

	mu    sync.RWMutex
	rooms map[string]map[*Conn]struct{}
	users map[string]map[*Conn]struct{}
	pseq  uint64 // sequence of this node's presence changes

	remote presenceView
	events eventBus

	startOnce sync.Once
	started   bool
	closed    atomic.Bool
	closeOnce sync.Once
	outbox    chan []byte
	done      chan struct{}
	runner    sync.WaitGroup
	sub       Subscription // owned by the runner once started
	hist      *histHub     // rooms with history on a server's hub, or nil (histhub.go)

	errMu   sync.Mutex
	lastErr error

	pubMu      sync.Mutex    // keeps the chunks of one envelope together (bigmsg.go)
	chunkSeq   uint64        // numbers the chunked envelopes; guarded by pubMu
	pubSeq     uint64        // numbers the published envelopes; guarded by pubMu
	pubSkipped atomic.Uint64 // envelopes dropped before publishing, whose numbers are skipped
	legacyAt   atomic.Int64  // when a version 1 envelope came last, in Unix ns (missed.go)
	ownHeard   atomic.Int64  // when an envelope of this node came back last, in Unix ns (presence.go)
	rxMu       sync.Mutex
	partials   map[string]*partialMsg // per sender node; guarded by rxMu
	peers      map[string]*peerSeq    // per sender node (missed.go); guarded by rxMu
	stateReq   chan struct{}          // asks the runner for this node's state (presence.go)

	missErr error     // the last loss found (missed.go); guarded by errMu
	missAt  time.Time // when
}

// hubCounters are the hub's totals.
type hubCounters struct {
	queued, sent, dropped, slowClosed          atomic.Uint64
	published, received, brokerErrors          atomic.Uint64
	outboxDropped, badEnvelopes, eventsDropped atomic.Uint64
	chunksDropped, missed                      atomic.Uint64
}

// hubStats counts what went through a hub since the server started.
type hubStats struct {
	Node          string // this node's ID
	Rooms         int    // rooms with members on this node
	Queued        uint64 // messages queued for local connections (all send queues)
	Sent          uint64 // messages written by the send queues
	Dropped       uint64 // messages dropped by send queues (QueueDrop, overflow, closed connections)
	SlowClosed    uint64 // connections closed because their send queue overflowed
	Published     uint64 // envelopes published to the broker
	Received      uint64 // envelopes received from other nodes and publishers
	BrokerErrors  uint64 // failed publishes and subscribes
	OutboxDropped uint64 // envelopes dropped because the broker could not keep up
	EventsDropped uint64 // presence events dropped because a subscriber was too slow
	ChunksDropped uint64 // chunked messages and paged states from other nodes dropped incomplete
	Missed        uint64 // envelopes other nodes published that never came (gaps in their numbers)
}

// Hub returns the server's hub, which starts on first use.
func (s *Server) Hub() *Hub {
	s.hubOnce.Do(func() { s.hub = newHub(s, s.opts.Hub, s.log) })
	return s.hub
}

// closeHub stops the hub once every connection has ended: it publishes
// what is left, says goodbye to the other nodes and leaves the broker.
func (s *Server) closeHub() { s.Hub().close() }

// NewHub returns a hub for a process that serves no WebSocket (a worker)
// but shares opts.Broker with the servers; it publishes at once and
// returns the broker's error. Close it when done.
func NewHub(opts HubOptions) *Hub {
	return newHub(nil, opts.withDefaults(), slog.Default())
}

// Close stops a hub made with NewHub: it tells the other nodes this one is
// gone and leaves the broker. It does nothing on a server's hub.
func (h *Hub) Close() error {
	if h.srv == nil {
		h.close()
	}
	return nil
}

// send sends e to the other nodes: through the outbox for a server's hub,
// which then delivers it locally (local), and at once for a hub of
// NewHub, which has no connections and reports the broker's error.
func (h *Hub) send(ctx context.Context, e *envelope) (local bool, err error) {
	if err := h.checkSize(e); err != nil {
		return false, err
	}
	if h.srv != nil {
		h.use()
		if h.outbox != nil {
			h.post(encodeEnvelope(e))
		}
		return true, nil
	}
	if h.broker == nil {
		return false, fmt.Errorf("%w: the hub has no broker: set HubOptions.Broker", ErrBroker)
	}
	if err := h.publishPayload(ctx, encodeEnvelope(e)); err != nil {
		return false, fmt.Errorf("%w: publish: %w", ErrBroker, err)
	}
	h.counters.published.Add(1)
	return false, nil
}

func newHub(s *Server, opts HubOptions, log *slog.Logger) *Hub {
	h := &Hub{
		srv:    s,
		log:    log,
		opts:   opts,
		broker: opts.Broker,
		rooms:  make(map[string]map[*Conn]struct{}),
		users:  make(map[string]map[*Conn]struct{}),
	}
	h.remote.nodes = make(map[string]*nodeView)
	if s != nil {
		h.hist = newHistHub(h, opts.History)
	}
	if h.broker != nil {
		h.outbox = make(chan []byte, h.opts.OutboxSize)
		h.done = make(chan struct{})
		h.stateReq = make(chan struct{}, 1)
	}
	return h
}

// Node returns this node's ID, as it appears in Member.Node.
func (h *Hub) Node() string { return h.opts.Node }

// use starts the hub on first use: subscribe to the broker, announce this
// node and ask the others who is where.
func (h *Hub) use() { h.startOnce.Do(h.start) }

func (h *Hub) start() {
	if h.closed.Load() {
		return
	}
	if h.hist != nil {
		h.hist.start()
	}
	if h.broker == nil {
		return
	}
	h.started = true
	h.subscribe()
	h.post(encodeEnvelope(&envelope{kind: kindSyncRequest, node: h.opts.Node}))
	h.runner.Go(h.run)
}

// subscribe subscribes to the hub topic; on failure the runner retries at
// every presence interval.
func (h *Hub) subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
	defer cancel()
	sub, err := h.broker.Subscribe(ctx, hubTopic, h.receive)
	h.brokerResult(err, "subscribe")
	if err == nil {
		h.sub = sub
	}
}

// run publishes the outbox and keeps presence alive until the hub closes:
// a heartbeat every interval, and the nodes gone silent looked for every
// quarter interval.
func (h *Hub) run() {
	tick := time.NewTicker(max(h.opts.PresenceInterval/4, 1))
	defer tick.Stop()
	var st stateSender
	defer st.stop()
	quarters := 0
	for {
		select {
		case p := <-h.outbox:
			h.publish(p)
		case <-h.stateReq:
			st.request(h)
		case <-st.pace():
			st.next(h)
		case <-tick.C:
			h.expireNodes(time.Now())
			if quarters++; quarters%4 != 0 {
				continue
			}
			if h.sub == nil {
				h.subscribe()
			}
			h.mu.RLock()
			hb := &envelope{kind: kindHeartbeat, node: h.opts.Node, seq: h.pseq}
			h.mu.RUnlock()
			h.post(encodeEnvelope(hb))
			h.expirePartials(time.Now())
		case <-h.done:
			h.drain()
			if h.sub != nil {
				if err := h.sub.Close(); err != nil {
					h.log.Debug("nows: hub: unsubscribe", "err", err)
				}
			}
			return
		}
	}
}

// drain publishes what is left in the outbox (for at most one
// PublishTimeout, so that a broker outage cannot hold up a shutdown), then
// tells the other nodes that this one is gone.
func (h *Hub) drain() {
	deadline := time.Now().Add(h.opts.PublishTimeout)
	for time.Now().Before(deadline) {
		select {
		case p := <-h.outbox:
			h.publish(p)
			continue
		default:
		}
		break
	}
	h.publish(encodeEnvelope(&envelope{kind: kindBye, node: h.opts.Node}))
}

// post queues an envelope for the broker without blocking.
func (h *Hub) post(p []byte) {
	if h.outbox == nil {
		return
	}
	select {
	case h.outbox <- p:
	default:
		h.pubSkipped.Add(1) // the receivers count it missed
		if h.counters.outboxDropped.Add(1) == 1 {
			h.log.Warn("nows: hub: broker outbox full, dropping cross-node messages", "node", h.opts.Node)
		}
	}
}

func (h *Hub) publish(p []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
	defer cancel()
	err := h.publishPayload(ctx, p)
	if err == nil {
		h.counters.published.Add(1)
	}
	h.brokerResult(err, "publish")
}

// brokerResult records the outcome of a broker call, logging when the
// broker becomes unavailable and when it is back.
func (h *Hub) brokerResult(err error, op string) {
	if h.srv != nil && h.srv.opts.Observer != nil && op == "publish" {
		h.srv.opts.Observer.Observe(Event{Kind: EventPublish, Err: err})
	}
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if err != nil {
		h.counters.brokerErrors.Add(1)
		if h.lastErr == nil {
			h.log.Warn("nows: hub: broker unavailable; local delivery goes on", "node", h.opts.Node, "op", op, "err", err)
		}
		h.lastErr = fmt.Errorf("%w: %s: %w", ErrBroker, op, err)
		return
	}
	if h.lastErr != nil {
		h.log.Info("nows: hub: broker available again", "node", h.opts.Node)
		h.lastErr = nil
	}
}

// Err returns the broker's error (wrapping ErrBroker) while it is down;
// else, for 3 PresenceIntervals after messages of another node went
// missing, an error naming it and how many; else nil.
func (h *Hub) Err() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	if h.lastErr == nil && h.missErr != nil && time.Since(h.missAt) < 3*h.opts.PresenceInterval {
		return h.missErr
	}
	return h.lastErr
}

// close stops the hub after the last connection has left.
func (h *Hub) close() {
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		h.startOnce.Do(func() {}) // no start after close
		if h.started {
			close(h.done)
			h.runner.Wait()
		}
		if h.hist != nil {
			h.hist.close()
		}
		h.events.close()
	})
}

// stats returns the hub's counters.
func (h *Hub) stats() hubStats {
	h.mu.RLock()
	rooms := len(h.rooms)
	h.mu.RUnlock()
	c := &h.counters
	return hubStats{
		Node:          h.opts.Node,
		Rooms:         rooms,
		Queued:        c.queued.Load(),
		Sent:          c.sent.Load(),
		Dropped:       c.dropped.Load(),
		SlowClosed:    c.slowClosed.Load(),
		Published:     c.published.Load(),
		Received:      c.received.Load(),
		BrokerErrors:  c.brokerErrors.Load(),
		OutboxDropped: c.outboxDropped.Load(),
		EventsDropped: c.eventsDropped.Load(),
		ChunksDropped: c.chunksDropped.Load(),
		Missed:        c.missed.Load(),
	}
}

// Broadcast sends m to every member of room, on every node. It returns once
// each local member has its copy written or queued and m is on its way to
// the broker (an outage is Err's). ctx bounds QueueBlock.
func (h *Hub) Broadcast(ctx context.Context, room string, m Message) error {
	return h.broadcast(ctx, kindRoom, room, "", m)
}

// BroadcastAll sends m to every connection of every node, in a room or not.
func (h *Hub) BroadcastAll(ctx context.Context, m Message) error {
	return h.broadcast(ctx, kindAll, "", "", m)
}

func (h *Hub) broadcast(ctx context.Context, kind byte, room, except string, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	if kind == kindRoom && room == "" {
		return ErrEmptyName
	}
	if h.closed.Load() {
		return ErrServerClosed
	}
	if kind == kindRoom {
		if lim, ok := h.opts.History.Limits(room); ok {
			return h.broadcastHistory(ctx, room, except, m, lim)
		}
	}
	e := &envelope{kind: kind, node: h.opts.Node, room: room, id: except, typ: m.Type, data: m.Data}
	if local, err := h.send(ctx, e); !local {
		return err
	}
	h.fanOut(ctx, kind, room, except, m, false)
	return nil
}

// deliver queues m, a broadcast from the broker, for the local recipients.
// It never waits, whatever the queue policy: its goroutine is the broker's
// subscription, and one slow connection must not stall every room of this
// node. A full QueueBlock queue parks m in its overflow (queue.go).
func (h *Hub) deliver(ctx context.Context, kind byte, room, except string, m Message) {
	h.fanOut(ctx, kind, room, except, m, true)
}

// fanOut queues m for the local recipients. Full QueueBlock queues park m
// (fromBroker), or are waited for only after everyone else has been served,
// and the slow clients closed for overflow are logged last, with no lock
// held.
func (h *Hub) fanOut(ctx context.Context, kind byte, room, except string, m Message, fromBroker bool) {
	var blocked, overflowed []*Conn
	o := outgoing{typ: m.Type, data: m.Data} // one frame for every member, built on the first that needs it
	started := startedPool.Get().(*[]*Conn)
	offer := func(c *Conn) {
		cs := c.state()
		if except != "" && cs.id == except {
			return
		}
		switch cs.queue.offer(c, o.entryFor(c), fromBroker) {
		case offeredStart:
			*started = append(*started, c)
			c.observeData(EventSent, m.Type, len(m.Data))
		case offered:
			c.observeData(EventSent, m.Type, len(m.Data))
		case offerFull:
			blocked = append(blocked, c)
		case offerOverflow:
			overflowed = append(overflowed, c)
		}
	}
	if kind == kindAll && h.srv != nil {
		for _, c := range h.srv.connections() {
			offer(c)
		}
	} else {
		h.mu.RLock()
		for c := range h.rooms[room] {
			offer(c)
		}
		h.mu.RUnlock()
	}
	// Written to, or handed to writer goroutines, with no lock held.
	for _, c := range *started {
		c.startWriter(&c.hs.Load().queue)
	}
	clear(*started)
	*started = (*started)[:0]
	startedPool.Put(started)
	start := time.Now()
	for _, c := range blocked {
		q := &c.hs.Load().queue
		switch q.offerWait(ctx, c, o.entryFor(c), start.Add(q.opts.BlockTimeout)) {
		case offerOverflow:
			overflowed = append(overflowed, c)
		case offered, offeredStart:
			c.observeData(EventSent, m.Type, len(m.Data))
		}
	}
	for _, c := range overflowed {
		c.hs.Load().queue.logOverflow(c)
	}
}

// startedPool holds deliver's lists of the queues a broadcast started.
var startedPool = sync.Pool{New: func() any { return new([]*Conn) }}

// connections returns the server's open connections.
func (s *Server) connections() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// DisconnectRoom closes every connection in room, on every node, with code
// and reason, after the messages already queued for each. It returns once
// the closes have started.
func (h *Hub) DisconnectRoom(ctx context.Context, room string, code websocket.StatusCode, reason string) error {
	return h.disconnect(ctx, kindDisconnectRoom, room, code, reason)
}

// DisconnectUser closes every connection whose user key (see
// [Conn.SetUser]) is user, on every node, like DisconnectRoom.
func (h *Hub) DisconnectUser(ctx context.Context, user string, code websocket.StatusCode, reason string) error {
	return h.disconnect(ctx, kindDisconnectUser, user, code, reason)
}

func (h *Hub) disconnect(ctx context.Context, kind byte, key string, code websocket.StatusCode, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reason, err := checkClose(code, reason)
	if err != nil {
		return err
	}
	if key == "" {
		return ErrEmptyName
	}
	e := &envelope{kind: kind, node: h.opts.Node, room: key, user: reason, code: uint16(code)}
	if local, err := h.send(ctx, e); !local {
		return err
	}
	h.disconnectLocal(kind, key, CloseStatus{Code: code, Reason: reason, Cause: CauseClosed})
	return nil
}

func (h *Hub) disconnectLocal(kind byte, key string, st CloseStatus) {
	index := h.rooms
	if kind == kindDisconnectUser {
		index = h.users
	}
	h.mu.RLock()
	conns := make([]*Conn, 0, len(index[key]))
	for c := range index[key] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		c.state().queue.closeInOrder(c, st)
	}
}

// Member is a connection in a room, on this node or another.
type Member struct {
	ID   string // the connection's ID, unique across nodes (Conn.ID)
	User string // the connection's user key (Conn.SetUser), or ""
	Node string // the ID of the node that serves it
}

// Members returns the members of room on every node, sorted by node and
// ID.
func (h *Hub) Members(room string) []Member {
	h.use()
	h.mu.RLock()
	ms := make([]Member, 0, len(h.rooms[room]))
	for c := range h.rooms[room] {
		cs := c.hs.Load()
		ms = append(ms, Member{ID: cs.id, User: cs.user, Node: h.opts.Node})
	}
	h.mu.RUnlock()
	ms = h.remote.members(room, ms)
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.ID, b.ID))
	})
	return ms
}

// LocalMembers returns the connections of this node in room, in no order.
func (h *Hub) LocalMembers(room string) []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	conns := make([]*Conn, 0, len(h.rooms[room]))
	for c := range h.rooms[room] {
		conns = append(conns, c)
	}
	return conns
}

// Rooms returns the rooms that have members on any node, sorted.
func (h *Hub) Rooms() []string {
	h.use()
	h.mu.RLock()
	rooms := make([]string, 0, len(h.rooms))
	for r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	rooms = h.remote.roomNames(rooms)
	slices.Sort(rooms)
	return slices.Compact(rooms)
}

// newConnID returns an ID unique across nodes: the node's and a counter.
func (h *Hub) newConnID() string {
	return h.opts.Node + "." + strconv.FormatUint(h.connSeq.Add(1), 36)
}

// receive handles one envelope from the broker.
func (h *Hub) receive(p []byte) {
	if h.closed.Load() {
		return
	}
	e, err := decodeEnvelope(p)
	if err != nil {
		h.badEnvelope(err)
		return
	}
	if e.node == h.opts.Node {
		h.ownHeard.Store(time.Now().UnixNano()) // the broker's path works
		return                                  // our own, already delivered locally
	}
	if p[0] == envelopeV1 {
		h.legacyAt.Store(time.Now().UnixNano())
	}
	h.counters.received.Add(1)
	h.track(e)
	h.handle(e)
}

// badEnvelope counts a malformed envelope, logging the first.
func (h *Hub) badEnvelope(err error) {
	if h.counters.badEnvelopes.Add(1) == 1 {
		h.log.Warn("nows: hub: bad message from broker", "err", err)
	}
}

// handle handles an envelope from another node.
func (h *Hub) handle(e *envelope) {
	switch e.kind {
	case kindRoom, kindAll:
		m := Message{Type: e.typ, Data: e.data}
		if m.check() != nil || e.kind == kindRoom && e.room == "" {
			return
		}
		h.deliver(context.Background(), e.kind, e.room, e.id, m)
	case kindDisconnectRoom, kindDisconnectUser:
		code := websocket.StatusCode(e.code)
		reason, err := checkClose(code, e.user)
		if err != nil {
			return
		}
		h.disconnectLocal(e.kind, e.room, CloseStatus{Code: code, Reason: reason, Cause: CauseClosed})
	case kindSyncRequest:
		if e.id == "" || e.id == h.opts.Node {
			h.wantState()
		}
	case kindChunk:
		h.onChunk(e)
	case kindJoin, kindLeave, kindHeartbeat, kindState, kindStatePage, kindBye:
		h.onPresence(e)
	}
}
