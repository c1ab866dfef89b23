package framework

import (
	"context"
	"slices"

	"github.com/nowebsocket/nows/framework/history"
)

// This file holds what a Conn does with the hub: its ID and user key, the
// rooms it joins, broadcasts that leave it out, and its send queue. All of
// it is made on first use: a connection that never uses the hub carries
// one nil pointer and nothing else.

// connState is what the hub knows of one connection.
type connState struct {
	id    string
	user  string                   // guarded by Hub.mu
	rooms map[string]struct{}      // guarded by Hub.mu
	gone  bool                     // guarded by Hub.mu: left every room at close
	recov map[string]*connRecovery // rooms with history it is recovering in; guarded by Hub.mu
	queue sendQueue
}

// state returns c's hub state, making it on first use.
func (c *Conn) state() *connState {
	if cs := c.hs.Load(); cs != nil {
		return cs
	}
	h := c.srv.Hub()
	cs := &connState{id: h.newConnID()}
	cs.queue.opts = c.srv.opts.SendQueue
	cs.queue.obs, cs.queue.route = c.srv.opts.Observer, c.route.full
	if o := c.route.spec.queue; o != nil {
		cs.queue.opts = o.withDefaults(c.srv.opts.SendQueue)
	}
	cs.queue.total = &h.counters
	if c.hs.CompareAndSwap(nil, cs) {
		return cs
	}
	return c.hs.Load()
}

// Hub returns the hub of the connection's server.
func (c *Conn) Hub() *Hub { return c.srv.Hub() }

// ID returns the connection's ID, unique across the nodes sharing a
// broker: what [Member.ID] holds and [Conn.BroadcastOthers] leaves out.
func (c *Conn) ID() string { return c.state().id }

// SetUser sets the connection's user key (an account ID, a nickname), by
// which [Hub.DisconnectUser] finds it and [Member.User] names it. Set it
// before joining rooms (in OnOpen) so that other nodes see it too. "" means
// no user.
func (c *Conn) SetUser(key string) {
	cs := c.state()
	h := c.Hub()
	h.mu.Lock()
	defer h.mu.Unlock()
	if cs.gone || cs.user == key {
		return
	}
	if set := h.users[cs.user]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, cs.user)
		}
	}
	cs.user = key
	if key == "" {
		return
	}
	set := h.users[key]
	if set == nil {
		set = make(map[*Conn]struct{})
		h.users[key] = set
	}
	set[c] = struct{}{}
}

// User returns the connection's user key, or "".
func (c *Conn) User() string {
	cs := c.hs.Load()
	if cs == nil {
		return ""
	}
	h := c.Hub()
	h.mu.RLock()
	defer h.mu.RUnlock()
	return cs.user
}

// Join adds the connection to room (twice does nothing), or returns
// ErrClosed once it is closing. It leaves its rooms after OnClose.
func (c *Conn) Join(room string) error {
	_, err := c.join(room, nil)
	return err
}

// join is Join; with rec, for a room with history, c gets the room's
// entries through rec until it has caught up (histhub.go). It reports
// whether it added c, which was not in room.
func (c *Conn) join(room string, rec *connRecovery) (bool, error) {
	if room == "" {
		return false, ErrEmptyName
	}
	if c.closing.Load() != nil {
		return false, ErrClosed
	}
	cs := c.state()
	h := c.Hub()
	h.use()
	// The first local member of a room with history makes the node read
	// the room's position, so that it gets every message appended after
	// Join began (histhub.go).
	var from history.Position
	if h.hist != nil {
		from = h.hist.top(c.ctx, room)
		if rec == nil {
			rec = h.hist.liveMember(c, room)
		}
	}
	h.mu.Lock()
	if cs.gone {
		h.mu.Unlock()
		return false, ErrClosed
	}
	if _, ok := cs.rooms[room]; ok {
		h.mu.Unlock()
		return false, nil
	}
	if cs.rooms == nil {
		cs.rooms = make(map[string]struct{})
	}
	cs.rooms[room] = struct{}{}
	if rec != nil {
		if cs.recov == nil {
			cs.recov = make(map[string]*connRecovery)
		}
		cs.recov[room] = rec
	}
	members := h.rooms[room]
	if members == nil {
		members = make(map[*Conn]struct{})
		h.rooms[room] = members
		if h.hist != nil {
			h.hist.follow(room, from)
		}
	}
	members[c] = struct{}{}
	ev := PresenceEvent{Joined: true, Room: room, Member: Member{ID: cs.id, User: cs.user, Node: h.opts.Node}}
	h.changePresence(ev)
	h.mu.Unlock()
	h.events.emit(ev)
	return true, nil
}

// Leave removes the connection from room, if it is in it.
func (c *Conn) Leave(room string) {
	cs := c.hs.Load()
	if cs == nil {
		return
	}
	h := c.Hub()
	h.mu.Lock()
	ev, ok := h.leave(c, cs, room)
	h.mu.Unlock()
	if ok {
		h.events.emit(ev)
	}
}

// leave removes c from room. h.mu is held.
func (h *Hub) leave(c *Conn, cs *connState, room string) (PresenceEvent, bool) {
	if _, ok := cs.rooms[room]; !ok {
		return PresenceEvent{}, false
	}
	delete(cs.rooms, room)
	delete(cs.recov, room)
	if members := h.rooms[room]; members != nil {
		delete(members, c)
		if len(members) == 0 {
			delete(h.rooms, room)
			if h.hist != nil {
				h.hist.unfollow(room)
			}
		}
	}
	ev := PresenceEvent{Room: room, Member: Member{ID: cs.id, User: cs.user, Node: h.opts.Node}, Reason: LeaveMember}
	h.changePresence(ev)
	return ev, true
}

// Rooms returns the rooms the connection is in, sorted.
func (c *Conn) Rooms() []string {
	cs := c.hs.Load()
	if cs == nil {
		return nil
	}
	h := c.Hub()
	h.mu.RLock()
	rooms := make([]string, 0, len(cs.rooms))
	for r := range cs.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	slices.Sort(rooms)
	return rooms
}

// BroadcastOthers sends m to every member of room, on every node, except
// this connection (whether it is a member or not). See [Hub.Broadcast].
func (c *Conn) BroadcastOthers(ctx context.Context, room string, m Message) error {
	return c.Hub().broadcast(ctx, kindRoom, room, c.ID(), m)
}

// queueStats returns the counters of the connection's send queue.
func (c *Conn) queueStats() queueStats {
	cs := c.hs.Load()
	if cs == nil {
		return queueStats{}
	}
	return cs.queue.stats()
}

// stopQueue ends the send queue of a connection that has ended and waits
// for its writer. finish calls it before OnClose.
func (c *Conn) stopQueue() {
	if cs := c.hs.Load(); cs != nil {
		cs.queue.stop()
	}
}

// leaveHub takes an ended connection out of its rooms and its user's set
// for good. finish calls it after OnClose.
func (c *Conn) leaveHub() {
	cs := c.hs.Load()
	if cs == nil {
		return
	}
	h := c.Hub()
	h.mu.Lock()
	cs.gone = true
	var evs []PresenceEvent
	for room := range cs.rooms {
		if ev, ok := h.leave(c, cs, room); ok {
			evs = append(evs, ev)
		}
	}
	if set := h.users[cs.user]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, cs.user)
		}
	}
	h.mu.Unlock()
	h.events.emit(evs...)
}
