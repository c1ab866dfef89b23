package framework

import (
	"sync"
	"sync/atomic"
	"time"
)

// This file holds presence: who is in which room, on this node and the
// others. Each node numbers the changes of its own rooms (joins and leaves)
// and publishes them as they happen, plus a heartbeat with the latest
// number every PresenceInterval. A node that sees a gap in another's
// numbers, or hears a heartbeat from a node it does not know (it has just
// started, or the broker was down), asks that node for its full state. A
// node not heard from (any envelope counts) for nodeTTL is forgotten,
// checked every quarter interval, its silence counted only while this node
// hears its own envelopes back (expireNodes); one that shuts down says
// goodbye. This
// needs nothing of a broker but publish and subscribe, so it works the
// same over NATS, Redis and in-process.
//
// nodeTTL is two missed heartbeats and a margin of half an interval for a
// heartbeat late behind a busy publisher or receiver. A node is forgotten
// 2.5 to 2.75 intervals after its last envelope, which came at most one
// interval before it died: between 1.5 and 2.75 intervals after its death,
// within 3 with the delays of delivery and scheduling. Every envelope of a
// node counts as a sign of life, so a node whose heartbeat waits behind
// its broadcasts is not taken for dead.
const nodeTTL = 5 // in half presence intervals

// PresenceEvent reports a member joining or leaving a room, on any node.
type PresenceEvent struct {
	Joined bool // true when Member joined Room, false when it left
	Room   string
	Member Member
	Reason LeaveReason // why Member left; "" for a join
}

// LeaveReason says why a member left a room.
type LeaveReason string

// The reasons of PresenceEvent.
const (
	LeaveMember      LeaveReason = "left"         // it left, or its connection ended
	LeaveNodeStopped LeaveReason = "node stopped" // its node said goodbye before its leave came
	LeaveNodeLost    LeaveReason = "node lost"    // its node went silent (killed, cut off): within 3 PresenceIntervals of its death
	LeaveResync      LeaveReason = "resync"       // absent from its node's state, sent after changes were missed
)

// Watch calls fn, in order on one goroutine, for every presence event on
// every node until stop or the hub's close; past 4096 behind, events drop.
func (h *Hub) Watch(fn func(PresenceEvent)) (stop func()) {
	h.use()
	return h.events.subscribe(fn, h)
}

// eventBus delivers presence events to subscribers on one goroutine, which
// runs from the first Subscribe until the hub closes.
type eventBus struct {
	mu     sync.Mutex
	subs   map[int]func(PresenceEvent)
	next   int
	ch     chan PresenceEvent
	done   chan struct{}
	closed bool
	loop   sync.WaitGroup
	active atomic.Int32 // len(subs), read without the lock by emit
	hub    *Hub
}

func (b *eventBus) subscribe(fn func(PresenceEvent), h *Hub) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return func() {}
	}
	if b.subs == nil {
		b.subs = make(map[int]func(PresenceEvent))
		b.ch = make(chan PresenceEvent, 4096)
		b.done = make(chan struct{})
		b.hub = h
		b.loop.Go(b.run)
	}
	id := b.next
	b.next++
	b.subs[id] = fn
	b.active.Add(1)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[id]; ok {
			delete(b.subs, id)
			b.active.Add(-1)
		}
	}
}

func (b *eventBus) emit(evs ...PresenceEvent) {
	if b.active.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, ev := range evs {
		select {
		case b.ch <- ev:
		default:
			b.hub.counters.eventsDropped.Add(1)
		}
	}
}

func (b *eventBus) run() {
	for {
		select {
		case ev := <-b.ch:
			b.mu.Lock()
			fns := make([]func(PresenceEvent), 0, len(b.subs))
			for _, fn := range b.subs {
				fns = append(fns, fn)
			}
			b.mu.Unlock()
			for _, fn := range fns {
				b.call(fn, ev)
			}
		case <-b.done:
			return
		}
	}
}

func (b *eventBus) call(fn func(PresenceEvent), ev PresenceEvent) {
	defer func() {
		if v := recover(); v != nil {
			b.hub.log.Error("nows: panic in presence subscriber", "panic", v)
		}
	}()
	fn(ev)
}

func (b *eventBus) close() {
	b.mu.Lock()
	b.closed = true
	done := b.done
	b.mu.Unlock()
	if done != nil {
		close(done)
		b.loop.Wait()
	}
}

// changePresence records a local join or leave: it numbers it and
// publishes it. h.mu is held, so numbers and publications keep one order.
func (h *Hub) changePresence(ev PresenceEvent) {
	if h.outbox == nil {
		return
	}
	h.pseq++
	kind := byte(kindJoin)
	if !ev.Joined {
		kind = kindLeave
	}
	h.post(encodeEnvelope(&envelope{kind: kind, node: h.opts.Node, room: ev.Room, id: ev.Member.ID, user: ev.Member.User, seq: h.pseq}))
}

// A node's full presence goes out in pages (kindStatePage) of at most
// stateMaxPage bytes, or the broker's limit if smaller, so that no message
// is over the broker's limit or large for a subscriber's buffers, paced at
// stateRate bytes a second: Redis disconnects a subscriber whose output
// buffer passes 32 MiB, or 8 MiB for 60 s (client-output-buffer-limit
// pubsub). At 40 bytes a membership, 100,000 memberships are 16 pages over
// half a second. A receiver puts the pages of one state together (at most
// maxStatePages, in order; the first page of another state replaces the
// partial one, a page of the same state out of order drops it) and
// applies the state when its last page has come, then the joins and
// leaves that came meanwhile. While the pages keep coming it asks for no
// other state; a partial state idle for three presence intervals is
// dropped. The sender sends one state at a time: a request that comes
// while one is going out gets the next, made when this one is sent.
const (
	stateMaxPage      = 256 << 10
	stateRate         = 8 << 20
	maxStatePages     = 4096
	maxPendingChanges = 1 << 16
)

// wantState asks the runner to send this node's state, for a node that
// asked.
func (h *Hub) wantState() {
	select {
	case h.stateReq <- struct{}{}:
	default: // already asked
	}
}

// stateSender sends this node's state in paced pages; the runner owns it.
type stateSender struct {
	id    uint64   // numbers the states sent
	pages [][]byte // the pages of the current state still to send
	again bool     // a request came while the current state went out
	timer *time.Timer
	armed bool // timer runs: the next page waits for it
}

func (s *stateSender) request(h *Hub) {
	if len(s.pages) > 0 || s.armed {
		s.again = true
		return
	}
	s.start(h)
}

func (s *stateSender) start(h *Hub) {
	s.id++
	s.pages = h.statePages(s.id)
	s.next(h)
}

// next sends the next page, then waits for its share of stateRate.
func (s *stateSender) next(h *Hub) {
	s.armed = false
	if len(s.pages) == 0 {
		if s.again {
			s.again = false
			s.start(h)
		}
		return
	}
	p := s.pages[0]
	s.pages[0] = nil
	s.pages = s.pages[1:]
	h.publish(p)
	d := time.Duration(len(p)) * time.Second / stateRate
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	s.armed = true
}

// pace returns the channel on which the next page is due, or nil.
func (s *stateSender) pace() <-chan time.Time {
	if !s.armed {
		return nil
	}
	return s.timer.C
}

func (s *stateSender) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// statePages encodes this node's presence as state number id, in pages.
func (h *Hub) statePages(id uint64) [][]byte {
	size := stateMaxPage
	if limit := h.brokerLimit(); limit > 0 {
		size = max(min(size, h.chunkSize(limit)), 1)
	}
	var datas [][]byte
	var data []byte
	h.mu.RLock()
	seq := h.pseq
	for room, conns := range h.rooms {
		for c := range conns {
			cs := c.hs.Load()
			n := 3*binaryMaxVarint + len(room) + len(cs.id) + len(cs.user)
			if len(data) > 0 && len(data)+n > size {
				datas = append(datas, data)
				data = make([]byte, 0, len(data))
			}
			data = appendString(appendString(appendString(data, room), cs.id), cs.user)
		}
	}
	h.mu.RUnlock()
	datas = append(datas, data)
	pages := make([][]byte, len(datas))
	for i, d := range datas {
		hdr := appendUvarints(make([]byte, 0, 3*binaryMaxVarint+len(d)), id, uint64(i), uint64(len(datas)))
		pages[i] = encodeEnvelope(&envelope{kind: kindStatePage, node: h.opts.Node, seq: seq, data: append(hdr, d...)})
	}
	return pages
}

// presenceView is what this node knows of the others' rooms.
type presenceView struct {
	mu    sync.Mutex
	nodes map[string]*nodeView
}

// nodeView is one other node's presence.
type nodeView struct {
	seq   uint64 // the last change applied in order
	stale bool   // a change was missed: waiting for a state
	seen  time.Time
	asked time.Time // when its state was last requested
	rooms map[string]map[string]Member
	state *pendingState // the state whose pages are coming, or nil
}

// pendingState is a state of another node put together from its pages.
type pendingState struct {
	id, seq     uint64
	next, count uint64 // the index of the next page, the number of pages
	entries     []stateEntry
	changes     []*envelope // joins and leaves that came meanwhile
	last        time.Time   // when the last page came
}

func (n *nodeView) add(room string, m Member) bool {
	ms := n.rooms[room]
	if ms == nil {
		ms = make(map[string]Member)
		n.rooms[room] = ms
	}
	if old, ok := ms[m.ID]; ok && old == m {
		return false
	}
	ms[m.ID] = m
	return true
}

func (n *nodeView) remove(room, id string) (Member, bool) {
	m, ok := n.rooms[room][id]
	if !ok {
		return Member{}, false
	}
	delete(n.rooms[room], id)
	if len(n.rooms[room]) == 0 {
		delete(n.rooms, room)
	}
	return m, true
}

// leaveAll removes every member of n and returns the leave events.
func (n *nodeView) leaveAll(why LeaveReason) []PresenceEvent {
	var evs []PresenceEvent
	for room, ms := range n.rooms {
		for _, m := range ms {
			evs = append(evs, PresenceEvent{Room: room, Member: m, Reason: why})
		}
	}
	n.rooms = make(map[string]map[string]Member)
	return evs
}

// onPresence applies a presence envelope from another node.
func (h *Hub) onPresence(e *envelope) {
	p := &h.remote
	now := time.Now()
	var evs []PresenceEvent
	ask := false
	p.mu.Lock()
	n := p.nodes[e.node]
	if n == nil {
		if e.kind == kindBye {
			p.mu.Unlock()
			return
		}
		n = &nodeView{stale: true, rooms: make(map[string]map[string]Member)}
		p.nodes[e.node] = n
		ask = true
	}
	n.seen = now
	switch e.kind {
	case kindJoin, kindLeave:
		if e.seq <= n.seq {
			break // a change already applied
		}
		if e.seq != n.seq+1 || n.stale {
			n.stale, ask = true, true
		} else {
			n.seq = e.seq
		}
		if n.state != nil && len(n.state.changes) < maxPendingChanges {
			n.state.changes = append(n.state.changes, e)
		}
		evs = n.change(e, evs)
	case kindHeartbeat:
		if n.stale || e.seq != n.seq {
			n.stale, ask = true, true
		}
	case kindState: // from a node of an earlier version
		entries, err := decodeState(e.data)
		if err != nil {
			break
		}
		evs, ask = n.applyState(e.node, e.seq, entries, nil)
	case kindStatePage:
		var done *pendingState
		done, ask = h.statePage(n, e, now, ask)
		if done != nil {
			evs, ask = n.applyState(e.node, done.seq, done.entries, done.changes)
		}
	case kindBye:
		evs = n.leaveAll(LeaveNodeStopped)
		delete(p.nodes, e.node)
	}
	if ask && n.state != nil && now.Sub(n.state.last) <= 3*h.opts.PresenceInterval {
		ask = false // its state is on its way
	}
	if ask && now.Sub(n.asked) >= h.opts.PresenceInterval/2 {
		n.asked = now
	} else {
		ask = false
	}
	p.mu.Unlock()
	if ask {
		h.post(encodeEnvelope(&envelope{kind: kindSyncRequest, node: h.opts.Node, id: e.node}))
	}
	h.events.emit(evs...)
}

// resync asks node for its state again, its changes taken as missed: some
// of its envelopes never came (missed.go).
func (h *Hub) resync(node string) {
	now := time.Now()
	p := &h.remote
	p.mu.Lock()
	n := p.nodes[node]
	ask := n != nil && now.Sub(n.asked) >= h.opts.PresenceInterval/2
	if n != nil {
		n.stale = true // its next heartbeat asks again, if not now
	}
	if ask {
		n.asked = now
	}
	p.mu.Unlock()
	if ask {
		h.post(encodeEnvelope(&envelope{kind: kindSyncRequest, node: h.opts.Node, id: node}))
	}
}

// change applies a join or leave envelope to n, appending its event.
func (n *nodeView) change(e *envelope, evs []PresenceEvent) []PresenceEvent {
	m := Member{ID: e.id, User: e.user, Node: e.node}
	if e.kind == kindJoin {
		if n.add(e.room, m) {
			evs = append(evs, PresenceEvent{Joined: true, Room: e.room, Member: m})
		}
	} else if old, ok := n.remove(e.room, e.id); ok {
		evs = append(evs, PresenceEvent{Room: e.room, Member: old, Reason: LeaveMember})
	}
	return evs
}

// statePage adds a page to n's pending state and returns the state once
// complete. ask is whether to ask for a state, as it stands.
func (h *Hub) statePage(n *nodeView, e *envelope, now time.Time, ask bool) (*pendingState, bool) {
	hdr, body, err := decodeUvarints(e.data, 3)
	if err != nil || hdr[2] == 0 || hdr[1] >= hdr[2] || hdr[2] > maxStatePages {
		return nil, ask
	}
	entries, err := decodeState(body)
	if err != nil {
		return nil, ask
	}
	id, idx, count := hdr[0], hdr[1], hdr[2]
	ps := n.state
	if idx == 0 {
		if ps != nil {
			h.dropChunked(e.node, "state superseded")
		}
		ps = &pendingState{id: id, seq: e.seq, count: count}
		n.state = ps
	} else if ps == nil || ps.id != id {
		return nil, ask // a page of a state joined midway, or of another one
	} else if ps.seq != e.seq || ps.next != idx || ps.count != count {
		h.dropChunked(e.node, "state page lost")
		n.state = nil
		return nil, ask
	}
	ps.entries = append(ps.entries, entries...)
	ps.next++
	ps.last = now
	if ps.next < ps.count {
		return nil, ask
	}
	n.state = nil
	return ps, ask
}

// applyState replaces n's members with a state at seq, then applies the
// changes that came after it, and returns the events and whether to ask
// for another state (a change is missing).
func (n *nodeView) applyState(node string, seq uint64, entries []stateEntry, changes []*envelope) ([]PresenceEvent, bool) {
	if !n.stale && seq < n.seq {
		return nil, false
	}
	evs := n.replace(node, entries)
	n.seq, n.stale = seq, false
	for _, c := range changes {
		if c.seq <= n.seq {
			continue
		}
		if c.seq != n.seq+1 {
			n.stale = true
			return evs, true
		}
		n.seq = c.seq
		evs = n.change(c, evs)
	}
	return evs, false
}

// stateEntry is one member in a node's state.
type stateEntry struct{ room, id, user string }

// replace sets n's members to entries and returns the differences.
func (n *nodeView) replace(node string, entries []stateEntry) []PresenceEvent {
	next := make(map[string]map[string]Member)
	for _, e := range entries {
		if next[e.room] == nil {
			next[e.room] = make(map[string]Member)
		}
		next[e.room][e.id] = Member{ID: e.id, User: e.user, Node: node}
	}
	var evs []PresenceEvent
	for room, ms := range n.rooms {
		for id, m := range ms {
			if _, ok := next[room][id]; !ok {
				evs = append(evs, PresenceEvent{Room: room, Member: m, Reason: LeaveResync})
			}
		}
	}
	for room, ms := range next {
		for id, m := range ms {
			if old, ok := n.rooms[room][id]; !ok || old != m {
				evs = append(evs, PresenceEvent{Joined: true, Room: room, Member: m})
			}
		}
	}
	n.rooms = next
	return evs
}

// expireNodes forgets the nodes not heard from for nodeTTL, and drops the
// partial states idle for three intervals. Silence counts only while this
// node hears itself: it publishes at least a heartbeat every interval, and
// the broker echoes it back, so time is counted up to one interval after
// the last echo. A node that is itself cut off from the broker, or behind
// on what the broker delivers (its goroutines starved, a backlog), thus
// takes no other node for dead.
func (h *Hub) expireNodes(now time.Time) {
	ttl := nodeTTL * h.opts.PresenceInterval / 2
	if own := h.ownHeard.Load(); own != 0 {
		if until := time.Unix(0, own).Add(h.opts.PresenceInterval); until.Before(now) {
			now = until
		}
	}
	heard := h.heardTimes()
	var evs []PresenceEvent
	h.remote.mu.Lock()
	for id, n := range h.remote.nodes {
		if n.state != nil && now.Sub(n.state.last) > 3*h.opts.PresenceInterval {
			h.dropChunked(id, "state timed out")
			n.state = nil
		}
		if t := heard[id]; t.After(n.seen) {
			n.seen = t
		}
		if now.Sub(n.seen) > ttl {
			h.log.Warn("nows: hub: node lost: its members leave presence", "node", id, "silent", now.Sub(n.seen).Round(time.Millisecond))
			evs = append(evs, n.leaveAll(LeaveNodeLost)...)
			delete(h.remote.nodes, id)
		}
	}
	h.remote.mu.Unlock()
	h.events.emit(evs...)
}

// members appends the remote members of room to ms.
func (p *presenceView) members(room string, ms []Member) []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.nodes {
		for _, m := range n.rooms[room] {
			ms = append(ms, m)
		}
	}
	return ms
}

// roomNames appends the rooms with remote members to rooms.
func (p *presenceView) roomNames(rooms []string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.nodes {
		for r := range n.rooms {
			rooms = append(rooms, r)
		}
	}
	return rooms
}
