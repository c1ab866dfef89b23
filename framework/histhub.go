package framework

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/recovery"
	"github.com/nowebsocket/nows/internal/wire"
)

// This file holds the hub's rooms with history (HubOptions.History,
// internal/recovery/design.md §4): every broadcast to such a room is
// appended to the store, never published on the broker, and the node's
// members get it from the store's feed (Watch), in the store's order,
// through one recovery.Cursor per room followed on this node.

// The pacing of the node's reads of the store.
const (
	histPage     = 256                    // entries per read
	histGapDelay = 250 * time.Millisecond // how long a gap in the feed may last before the store is read
	histWatchMin = 100 * time.Millisecond // the first wait before a failed Watch is tried again
	histWatchMax = 5 * time.Second        // the longest
	// histMaxPending entries of a room may wait for a missing one (the
	// store cannot be read while its feed goes on); past that the node
	// gives up on the missing ones and tells its members (Cursor.Skip).
	histMaxPending = 4096

	// histReaders joins' reads of the store run at once; the others wait
	// for a turn. When a node restarts, its clients come back together and
	// each join reads the store: started all at once, a thousand reads
	// would queue in the store client's pool with their PublishTimeout
	// running, and time out (not recovered, unavailable) although the
	// store is healthy. Waiting for a turn does not count against it.
	histReaders = 16
)

// histHub follows, for a server's hub, the rooms with history that have
// members on this node.
type histHub struct {
	h      *Hub
	cfg    history.Config
	ctx    context.Context // ends when the hub closes
	cancel context.CancelFunc

	mu      sync.Mutex
	rooms   map[string]*histRoom // guarded by mu
	started bool                 // the feed is watched; guarded by mu
	closed  bool                 // guarded by mu
	wg      sync.WaitGroup       // the watcher and the reads

	turns      chan struct{} // histReaders: a join's read holds one
	maxPending int           // histMaxPending; tests lower it
	skipped    atomic.Uint64 // gaps given up on (Cursor.Skip)
}

// histRoom is one room followed on this node: its cursor, and the order
// in which its steps reach the members.
type histRoom struct {
	name string
	lim  history.Limits

	mu    sync.Mutex // held while a step is applied, fan-out included
	cur   *recovery.Cursor
	timer *time.Timer // a read owed after a gap, or nil; guarded by mu
	gone  atomic.Bool // the room's last local member left
	known bool        // followed from a position read at the first join (else from the top when first read)
}

func newHistHub(h *Hub, cfg history.Config) *histHub {
	if cfg.Store == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &histHub{h: h, cfg: cfg, ctx: ctx, cancel: cancel, rooms: make(map[string]*histRoom),
		turns: make(chan struct{}, histReaders), maxPending: histMaxPending}
}

// start watches the store's feed, once; a hub of NewHub never does.
func (hh *histHub) start() {
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.started || hh.closed {
		return
	}
	hh.started = true
	hh.wg.Go(hh.watch)
}

// watch runs Store.Watch until the hub closes, starting it again (after a
// pause that grows up to histWatchMax) when it fails or returns early.
func (hh *histHub) watch() {
	wait := histWatchMin
	for {
		err := hh.cfg.Store.Watch(hh.ctx, hh.update)
		if hh.ctx.Err() != nil {
			return
		}
		hh.h.log.Warn("nows: hub: history feed", "node", hh.h.opts.Node, "err", err)
		select {
		case <-hh.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, histWatchMax)
	}
}

// update takes one item of the feed. It never waits for a connection.
func (hh *histHub) update(u history.Update) {
	if u.Lost {
		hh.mu.Lock()
		rooms := make([]*histRoom, 0, len(hh.rooms))
		for _, r := range hh.rooms {
			rooms = append(rooms, r)
		}
		hh.mu.Unlock()
		for _, r := range rooms {
			r.mu.Lock()
			hh.apply(r, r.cur.Refetch())
			r.mu.Unlock()
		}
		return
	}
	hh.offer(u.Room, u.Entry)
}

// offer hands a live entry of room to its cursor, if the room is
// followed on this node.
func (hh *histHub) offer(room string, e history.Entry) {
	hh.mu.Lock()
	r := hh.rooms[room]
	hh.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	hh.apply(r, r.cur.Offer(e))
	r.mu.Unlock()
}

// top returns, for a Join, the position from which the node follows room
// if the join makes it its first local member: the room's top, read
// before the member is added, so that every message appended after the
// Join began reaches it. Zero when the room has no history, is followed
// already, or the store could not be read (the node then follows it from
// its top when first read).
func (hh *histHub) top(ctx context.Context, room string) history.Position {
	lim, ok := hh.cfg.Limits(room)
	if !ok {
		return history.Position{}
	}
	hh.mu.Lock()
	followed := hh.rooms[room] != nil
	hh.mu.Unlock()
	if followed {
		return history.Position{}
	}
	return hh.readTop(ctx, room, lim)
}

// read is a join's read of the store (Store.Since): it waits for a turn
// (histReaders), as long as ctx (the connection's) lasts, then reads
// within PublishTimeout.
func (hh *histHub) read(ctx context.Context, room string, from history.Position, limit int, lim history.Limits) (history.Result, error) {
	select {
	case hh.turns <- struct{}{}:
	case <-ctx.Done():
		return history.Result{}, ctx.Err()
	case <-hh.ctx.Done():
		return history.Result{}, hh.ctx.Err()
	}
	defer func() { <-hh.turns }()
	return hh.since(room, from, limit, lim)
}

// since reads the store (Store.Since) within PublishTimeout.
func (hh *histHub) since(room string, from history.Position, limit int, lim history.Limits) (history.Result, error) {
	ctx, cancel := context.WithTimeout(hh.ctx, hh.h.opts.PublishTimeout)
	defer cancel()
	return hh.cfg.Store.Since(ctx, room, from, limit, lim)
}

// readTop reads room's last position for a join, or zero when the store
// fails.
func (hh *histHub) readTop(ctx context.Context, room string, lim history.Limits) history.Position {
	res, err := hh.read(ctx, room, history.Position{}, 0, lim)
	if err != nil {
		hh.h.log.Debug("nows: hub: history read", "room", room, "err", err)
		return history.Position{}
	}
	return res.Top
}

// follow starts following room when it gets its first local member, with
// a cursor after from (see top). Hub.mu is held.
func (hh *histHub) follow(room string, from history.Position) {
	lim, ok := hh.cfg.Limits(room)
	if !ok {
		return
	}
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.closed || hh.rooms[room] != nil {
		return
	}
	r := &histRoom{name: room, lim: lim, known: from.Epoch != ""}
	cur, st := recovery.New(from)
	r.cur = cur
	hh.rooms[room] = r
	hh.goLocked(func() { hh.fetch(r, st.From) })
}

// unfollow stops following room when its last local member has left.
// Hub.mu is held. Steps of the room still on their way find it gone.
func (hh *histHub) unfollow(room string) {
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if r := hh.rooms[room]; r != nil {
		r.gone.Store(true)
		delete(hh.rooms, room)
	}
}

// goLocked runs f on a goroutine of its own unless the hub is closed.
// hh.mu is held.
func (hh *histHub) goLocked(f func()) {
	if !hh.closed {
		hh.wg.Go(f)
	}
}

// fetch reads r's entries after from, bounded by PublishTimeout, and
// gives the answer to r's cursor.
func (hh *histHub) fetch(r *histRoom, from history.Position) {
	res, err := hh.since(r.name, from, histPage, r.lim)
	if hh.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		hh.h.log.Debug("nows: hub: history read", "room", r.name, "err", err)
		hh.apply(r, r.cur.Failed())
		return
	}
	hh.apply(r, r.cur.Fetched(res))
}

// apply carries out one step of r's cursor, in the cursor's order: a
// loss is told to the room's events members (at the cursor's first
// answer too when it started from a position: its members joined at
// it), then
// the entries go to the members, then the store is read when asked, or
// later when a gap lasts; entries waiting past maxPending make it give
// up on the gap. r.mu is held.
func (hh *histHub) apply(r *histRoom, st recovery.Step) {
	if r.gone.Load() {
		return
	}
	if st.Joined && !r.known {
		// Started from no position (the store could not be read at the
		// first join): its members, who joined then, were told by
		// their own reads, not the node's.
		st.Lost = ""
	}
	hh.deliver(r, st)
	if st.Fetch {
		from := st.From
		hh.mu.Lock()
		hh.goLocked(func() { hh.fetch(r, from) })
		hh.mu.Unlock()
	}
	for r.cur.Pending() > hh.maxPending {
		// The store has not filled the gap while the feed went on: the
		// members are told, and go on from what waits.
		st := r.cur.Skip()
		if st.Lost == "" && len(st.Send) == 0 {
			break // before the cursor's first answer, which settles it
		}
		if st.Lost != "" {
			hh.skipped.Add(1)
		}
		hh.deliver(r, st)
	}
	if r.cur.Gap() && r.timer == nil {
		r.timer = time.AfterFunc(histGapDelay, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.timer = nil
			if r.cur.Gap() {
				hh.apply(r, r.cur.Refetch())
			}
		})
	}
}

// deliver tells r's events members of a loss, then hands the entries of
// st to r's members. r.mu is held.
func (hh *histHub) deliver(r *histRoom, st recovery.Step) {
	if st.Lost != "" {
		from := r.cur.Pos()
		if len(st.Send) > 0 {
			from = history.Position{Epoch: st.Send[0].Pos.Epoch, Offset: st.Send[0].Prev}
		}
		hh.h.histLost(r, st.Lost, from)
	}
	for _, e := range st.Send {
		hh.h.histFanOut(r, e)
	}
}

// close stops the feed and the reads, and waits for them.
func (hh *histHub) close() {
	hh.mu.Lock()
	hh.closed = true
	hh.mu.Unlock()
	hh.cancel()
	hh.wg.Wait()
}

// broadcastHistory appends m to the history of room: the store's feed
// brings it to every node, this one included. On a server's hub, the
// room's local members get it before this returns when it follows the
// room's last entry on this node; else the feed brings it in order,
// after the entries before it. The store's error is the broadcast's:
// nothing was sent.
func (h *Hub) broadcastHistory(ctx context.Context, room, except string, m Message, lim history.Limits) error {
	ctx, cancel := context.WithTimeout(ctx, h.opts.PublishTimeout)
	defer cancel()
	e, err := h.opts.History.Store.Append(ctx, room, history.Entry{Binary: m.Type == websocket.MessageBinary, Data: m.Data, Except: except}, lim)
	if err != nil {
		return fmt.Errorf("nows: history: append to %q: %w", room, err)
	}
	if h.hist != nil {
		h.use()
		h.hist.offer(room, e)
	}
	return nil
}

// histFanOut queues entry e of r for the room's local members: events
// members (nows.v1) get it with its room and position (the connection
// left out gets nows.pos instead), plain members get its bytes as sent,
// but the one left out. It never waits: a full QueueBlock queue parks
// it, and a full QueueDrop queue of a nows.v1 member closes it (1013)
// rather than leave a gap it would not know of. r.mu is held.
func (h *Hub) histFanOut(r *histRoom, e history.Entry) {
	typ := websocket.MessageText
	if e.Binary {
		typ = websocket.MessageBinary
	}
	plain := outgoing{typ: typ, data: e.Data}
	var framed, pos outgoing // built on first need
	var started, overflowed []*Conn
	h.mu.RLock()
	if r.gone.Load() {
		h.mu.RUnlock()
		return
	}
	for c := range h.rooms[r.name] {
		cs := c.state()
		if rec := cs.recov[r.name]; rec != nil {
			if taken, start := rec.offer(c, cs, r, e); taken {
				if start {
					started = append(started, c)
				}
				continue
			}
		}
		o := &plain
		switch except := e.Except != "" && cs.id == e.Except; {
		case c.Subprotocol() == wire.Subprotocol && except:
			if pos.data == nil {
				pos = outgoing{typ: websocket.MessageText, data: wire.EncodePos(r.name, e.Pos)}
			}
			o = &pos
		case c.Subprotocol() == wire.Subprotocol:
			if framed.data == nil {
				framed = outgoing{typ: websocket.MessageText, data: histFrame(r.name, e)}
			}
			o = &framed
		case except:
			continue
		}
		var res offerResult
		if o == &plain {
			res = cs.queue.offer(c, o.entryFor(c), true)
		} else {
			res = cs.queue.offerKeep(c, o.entryFor(c))
		}
		switch res {
		case offeredStart:
			started = append(started, c)
			c.observeData(EventSent, o.typ, len(o.data))
		case offered:
			c.observeData(EventSent, o.typ, len(o.data))
		case offerOverflow:
			overflowed = append(overflowed, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range started {
		c.startWriter(&c.hs.Load().queue)
	}
	for _, c := range overflowed {
		c.hs.Load().queue.logOverflow(c)
	}
}

// histFrame is what an events member gets of entry e of room: an events
// envelope with room and pos added, or else nows.text or nows.binary.
func histFrame(room string, e history.Entry) []byte {
	if e.Binary {
		return wire.EncodeBinary(room, e.Data, e.Pos)
	}
	if env, err := wire.Decode(e.Data); err == nil && env.Event != "" && env.ID == 0 && env.Room == "" && env.Pos == nil {
		return wire.AppendRoom(e.Data, room, e.Pos)
	}
	return wire.EncodeText(room, e.Data, e.Pos)
}

// histLost tells the events members of r that messages before pos may be
// missing (nows.unrecovered), and has the app's OnUnrecovered run for
// them before their next message (connRecovery.tellLost); not those
// still recovering, whose own cursor tells them. r.mu is held.
func (h *Hub) histLost(r *histRoom, reason history.Reason, pos history.Position) {
	h.log.Warn("nows: hub: room history lost", "node", h.opts.Node, "room", r.name, "reason", reason)
	data, err := wire.EncodeEvent(wire.EventUnrecovered, 0, wire.Unrecovered{Room: r.name, Reason: reason, Pos: pos})
	if err != nil {
		return // unreachable: the payload always encodes
	}
	o := outgoing{typ: websocket.MessageText, data: data}
	var started []*Conn
	h.mu.RLock()
	for c := range h.rooms[r.name] {
		if c.Subprotocol() != wire.Subprotocol {
			continue
		}
		cs := c.state()
		if rec := cs.recov[r.name]; rec != nil {
			if rec.tellLost(c, cs, r.name, reason, o) {
				started = append(started, c)
			}
		} else if cs.queue.offerKeep(c, o.entryFor(c)) == offeredStart {
			started = append(started, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range started {
		c.startWriter(&c.hs.Load().queue)
	}
}
