package framework

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// HubOptions configures a server's [Hub]: how it reaches the other nodes.
type HubOptions struct {
	// Broker carries broadcasts, disconnects and presence between nodes
	// (see package github.com/nowebsocket/nows/framework/broker/nats and
	// .../broker/redis). Defaults to nil: this server alone, every
	// delivery in-process and no broker traffic at all.
	Broker Broker

	// Node names this server in broker traffic and presence; it must be
	// unique among the nodes sharing a broker. Defaults to a random ID.
	Node string

	// PresenceInterval is how often a node tells the others it is alive
	// (with a broker); a node not heard from for three intervals leaves
	// the presence of the others. Defaults to 5 s.
	PresenceInterval time.Duration

	// PublishTimeout bounds one publish to the broker. Defaults to 2 s.
	PublishTimeout time.Duration

	// OutboxSize bounds the messages waiting to be published to the
	// broker; when the broker is slow or down, more are dropped (and
	// counted in HubStats.OutboxDropped). Defaults to 8192.
	OutboxSize int
}

// Defaults of HubOptions.
const (
	DefaultPresenceInterval = 5 * time.Second
	DefaultPublishTimeout   = 2 * time.Second
	DefaultOutboxSize       = 8192
)

func (o HubOptions) withDefaults() HubOptions {
	if o.Node == "" {
		o.Node = newNodeID()
	}
	setDefault(&o.PresenceInterval, DefaultPresenceInterval)
	setDefault(&o.PublishTimeout, DefaultPublishTimeout)
	setDefault(&o.OutboxSize, DefaultOutboxSize)
	return o
}

func newNodeID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hub is a server's rooms: it knows which connections joined which room,
// broadcasts to them, and, with a [Broker], does the same across every
// node that shares the broker. Get it with [Server.Hub] or [Conn.Hub]. All
// its methods are safe to call from any goroutine.
//
// A broadcast is delivered to the local members at once, through each
// member's bounded send queue (see [QueueOptions]), and published to the
// broker for the other nodes, which deliver it to their own members. A node
// skips its own messages when the broker echoes them, so every member gets
// a broadcast exactly once. When the broker is unreachable, local delivery
// goes on; Err reports the outage and the broker adapter reconnects.
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

	errMu   sync.Mutex
	lastErr error
}

// hubCounters are the hub's totals.
type hubCounters struct {
	queued, sent, dropped, slowClosed          atomic.Uint64
	published, received, brokerErrors          atomic.Uint64
	outboxDropped, badEnvelopes, eventsDropped atomic.Uint64
}

// HubStats counts what went through a hub since the server started.
type HubStats struct {
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
}

// Hub returns the server's hub. It is made on first use and starts talking
// to the broker (if any) when first used.
func (s *Server) Hub() *Hub {
	s.hubOnce.Do(func() { s.hub = newHub(s) })
	return s.hub
}

// closeHub stops the hub once every connection has ended: it publishes
// what is left, says goodbye to the other nodes and leaves the broker.
func (s *Server) closeHub() { s.Hub().close() }

func newHub(s *Server) *Hub {
	h := &Hub{
		srv:    s,
		log:    s.log,
		opts:   s.opts.Hub,
		broker: s.opts.Hub.Broker,
		rooms:  make(map[string]map[*Conn]struct{}),
		users:  make(map[string]map[*Conn]struct{}),
	}
	h.remote.nodes = make(map[string]*nodeView)
	if h.broker != nil {
		h.outbox = make(chan []byte, h.opts.OutboxSize)
		h.done = make(chan struct{})
	}
	return h
}

// Node returns this node's ID, as it appears in Member.Node.
func (h *Hub) Node() string { return h.opts.Node }

// use starts the hub on first use: subscribe to the broker, announce this
// node and ask the others who is where.
func (h *Hub) use() { h.startOnce.Do(h.start) }

func (h *Hub) start() {
	if h.broker == nil || h.closed.Load() {
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

// run publishes the outbox and keeps presence alive until the hub closes.
func (h *Hub) run() {
	tick := time.NewTicker(h.opts.PresenceInterval)
	defer tick.Stop()
	for {
		select {
		case p := <-h.outbox:
			h.publish(p)
		case <-tick.C:
			if h.sub == nil {
				h.subscribe()
			}
			h.mu.RLock()
			hb := &envelope{kind: kindHeartbeat, node: h.opts.Node, seq: h.pseq}
			h.mu.RUnlock()
			h.post(encodeEnvelope(hb))
			h.expireNodes(time.Now())
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
		if h.counters.outboxDropped.Add(1) == 1 {
			h.log.Warn("nows: hub: broker outbox full, dropping cross-node messages", "node", h.opts.Node)
		}
	}
}

func (h *Hub) publish(p []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.PublishTimeout)
	defer cancel()
	err := h.broker.Publish(ctx, hubTopic, p)
	if err == nil {
		h.counters.published.Add(1)
	}
	h.brokerResult(err, "publish")
}

// brokerResult records the outcome of a broker call, logging when the
// broker becomes unavailable and when it is back.
func (h *Hub) brokerResult(err error, op string) {
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

// Err returns the last broker error while the broker is unavailable (it
// wraps ErrBroker), and nil when the last publish succeeded or there is no
// broker. A hub with a broker publishes at least every
// HubOptions.PresenceInterval, so Err notices an outage and its end
// within about that time.
func (h *Hub) Err() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
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
		h.events.close()
	})
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.RLock()
	rooms := len(h.rooms)
	h.mu.RUnlock()
	c := &h.counters
	return HubStats{
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
	}
}

// Broadcast sends m to every member of room, on every node. It returns
// once the local members have their copy queued (see QueueOptions for what
// a full queue does) and the message is on its way to the broker; a broker
// outage is not an error of Broadcast (see Err). ctx bounds the waits of
// QueueBlock.
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
		return ErrBadRoom
	}
	if h.closed.Load() {
		return ErrServerClosed
	}
	h.use()
	if h.outbox != nil {
		h.post(encodeEnvelope(&envelope{kind: kind, node: h.opts.Node, room: room, id: except, typ: m.Type, data: m.Data}))
	}
	h.deliver(ctx, kind, room, except, m)
	return nil
}

// deliver queues m for the local recipients. Full QueueBlock queues are
// waited for only after everyone else has been served, and the slow
// clients closed for overflow are logged last, with no lock held.
func (h *Hub) deliver(ctx context.Context, kind byte, room, except string, m Message) {
	var blocked, overflowed []*Conn
	offer := func(c *Conn) {
		cs := c.state()
		if except != "" && cs.id == except {
			return
		}
		switch cs.queue.offer(c, m) {
		case offerFull:
			blocked = append(blocked, c)
		case offerOverflow:
			overflowed = append(overflowed, c)
		}
	}
	if kind == kindAll {
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
	start := time.Now()
	for _, c := range blocked {
		q := &c.hs.Load().queue
		if q.offerWait(ctx, c, m, start.Add(q.opts.BlockTimeout)) == offerOverflow {
			overflowed = append(overflowed, c)
		}
	}
	for _, c := range overflowed {
		c.hs.Load().queue.logOverflow(c)
	}
}

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
func (h *Hub) DisconnectRoom(ctx context.Context, room string, code StatusCode, reason string) error {
	return h.disconnect(ctx, kindDisconnectRoom, room, code, reason)
}

// DisconnectUser closes every connection whose user key (see
// [Conn.SetUser]) is user, on every node, like DisconnectRoom.
func (h *Hub) DisconnectUser(ctx context.Context, user string, code StatusCode, reason string) error {
	return h.disconnect(ctx, kindDisconnectUser, user, code, reason)
}

func (h *Hub) disconnect(ctx context.Context, kind byte, key string, code StatusCode, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkClose(code, reason); err != nil {
		return err
	}
	if key == "" {
		return ErrBadRoom
	}
	h.use()
	if h.outbox != nil {
		h.post(encodeEnvelope(&envelope{kind: kind, node: h.opts.Node, room: key, user: reason, code: uint16(code)}))
	}
	h.disconnectLocal(kind, key, CloseStatus{Code: code, Reason: reason, Cause: CausePolicy})
	return nil
}

func checkClose(code StatusCode, reason string) error {
	if !code.sendable() {
		return fmt.Errorf("%w: %d", ErrBadCloseCode, int(code))
	}
	if len(reason) > 123 {
		return ErrReasonTooLong
	}
	if !utf8.ValidString(reason) {
		return errors.New("framework: close reason is not valid UTF-8")
	}
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
// ID. Remote members are those the presence of the other nodes reported;
// a node that stopped is removed after three presence intervals (at once
// when it shuts down cleanly).
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
		if h.counters.badEnvelopes.Add(1) == 1 {
			h.log.Warn("nows: hub: bad message from broker", "err", err)
		}
		return
	}
	if e.node == h.opts.Node {
		return // our own, already delivered locally
	}
	h.counters.received.Add(1)
	switch e.kind {
	case kindRoom, kindAll:
		m := Message{Type: e.typ, Data: e.data}
		if m.check() != nil || e.kind == kindRoom && e.room == "" {
			return
		}
		h.deliver(context.Background(), e.kind, e.room, e.id, m)
	case kindDisconnectRoom, kindDisconnectUser:
		code, reason := StatusCode(e.code), e.user
		if checkClose(code, reason) != nil {
			return
		}
		h.disconnectLocal(e.kind, e.room, CloseStatus{Code: code, Reason: reason, Cause: CausePolicy})
	case kindSyncRequest:
		if e.id == "" || e.id == h.opts.Node {
			h.postState()
		}
	case kindJoin, kindLeave, kindHeartbeat, kindState, kindBye:
		h.onPresence(e)
	}
}
