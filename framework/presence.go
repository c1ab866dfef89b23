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
// node not heard from for three intervals is forgotten; one that shuts
// down says goodbye. This needs nothing of a broker but publish and
// subscribe, so it works the same over NATS, Redis and in-process.

// PresenceEvent reports a member joining or leaving a room, on this node
// or another. Members of a node that stops are reported as leaving.
type PresenceEvent struct {
	Joined bool // true when Member joined Room, false when it left
	Room   string
	Member Member
}

// Watch calls fn, in order on one goroutine, for every presence event on
// every node until stop is called or the hub closes. When fn falls behind
// by more than 4096 events, the extra ones are dropped.
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

// postState publishes this node's full presence, for a node that asked.
func (h *Hub) postState() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var data []byte
	for room, conns := range h.rooms {
		for c := range conns {
			cs := c.hs.Load()
			data = appendString(appendString(appendString(data, room), cs.id), cs.user)
		}
	}
	h.post(encodeEnvelope(&envelope{kind: kindState, node: h.opts.Node, seq: h.pseq, data: data}))
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
func (n *nodeView) leaveAll() []PresenceEvent {
	var evs []PresenceEvent
	for room, ms := range n.rooms {
		for _, m := range ms {
			evs = append(evs, PresenceEvent{Room: room, Member: m})
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
		m := Member{ID: e.id, User: e.user, Node: e.node}
		if e.kind == kindJoin {
			if n.add(e.room, m) {
				evs = append(evs, PresenceEvent{Joined: true, Room: e.room, Member: m})
			}
		} else if old, ok := n.remove(e.room, e.id); ok {
			evs = append(evs, PresenceEvent{Room: e.room, Member: old})
		}
	case kindHeartbeat:
		if n.stale || e.seq != n.seq {
			n.stale, ask = true, true
		}
	case kindState:
		if !n.stale && e.seq < n.seq {
			break
		}
		entries, err := decodeState(e.data)
		if err != nil {
			break
		}
		evs = n.replace(e.node, entries)
		n.seq, n.stale = e.seq, false
		ask = false
	case kindBye:
		evs = n.leaveAll()
		delete(p.nodes, e.node)
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
				evs = append(evs, PresenceEvent{Room: room, Member: m})
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

// expireNodes forgets the nodes not heard from for three intervals.
func (h *Hub) expireNodes(now time.Time) {
	ttl := 3 * h.opts.PresenceInterval
	var evs []PresenceEvent
	h.remote.mu.Lock()
	for id, n := range h.remote.nodes {
		if now.Sub(n.seen) > ttl {
			h.log.Info("nows: hub: node gone from presence", "node", id, "silent", now.Sub(n.seen).Round(time.Millisecond))
			evs = append(evs, n.leaveAll()...)
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
