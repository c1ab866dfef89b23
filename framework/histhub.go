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
// docs/recovery-design.md §4): every broadcast to such a room is
// appended to the store, never published on the broker, and the node's
// members get it from the store's feed (Watch), in the store's order,
// through one recovery.Cursor per room followed on this node.

// The pacing of the node's reads of the store.
const (
	histPage     = 256                    // entries per read
	histGapDelay = 250 * time.Millisecond // how long a gap in the feed may last before the store is read
	histWatchMin = 100 * time.Millisecond // the first wait before a failed Watch is tried again
	histWatchMax = 5 * time.Second        // the longest
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
}

func newHistHub(h *Hub, cfg history.Config) *histHub {
	if cfg.Store == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &histHub{h: h, cfg: cfg, ctx: ctx, cancel: cancel, rooms: make(map[string]*histRoom)}
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
func (hh *histHub) top(room string) history.Position {
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
	return hh.readTop(room, lim)
}

// readTop reads room's last position, or zero when the store fails.
func (hh *histHub) readTop(room string, lim history.Limits) history.Position {
	ctx, cancel := context.WithTimeout(hh.ctx, hh.h.opts.PublishTimeout)
	defer cancel()
	res, err := hh.cfg.Store.Since(ctx, room, history.Position{}, 0, lim)
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
	r := &histRoom{name: room, lim: lim}
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
	ctx, cancel := context.WithTimeout(hh.ctx, hh.h.opts.PublishTimeout)
	res, err := hh.cfg.Store.Since(ctx, r.name, from, histPage, r.lim)
	cancel()
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
// loss is told to the room's events members (not at the cursor's first
// answer, which no member waits for yet), then the entries go to the
// members, then the store is read when asked, or later when a gap lasts.
// r.mu is held.
func (hh *histHub) apply(r *histRoom, st recovery.Step) {
	if r.gone.Load() {
		return
	}
	if st.Lost != "" && !st.Joined {
		from := r.cur.Pos()
		if len(st.Send) > 0 {
			from = history.Position{Epoch: st.Send[0].Pos.Epoch, Offset: st.Send[0].Prev}
		}
		hh.h.histLost(r, st.Lost, from)
	}
	for _, e := range st.Send {
		hh.h.histFanOut(r, e)
	}
	if st.Fetch {
		from := st.From
		hh.mu.Lock()
		hh.goLocked(func() { hh.fetch(r, from) })
		hh.mu.Unlock()
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

// close stops the feed and the reads, and waits for them.
func (hh *histHub) close() {
	hh.mu.Lock()
	hh.closed = true
	hh.mu.Unlock()
	hh.cancel()
	hh.wg.Wait()
}

// histLimits returns the window of room when it has history.
func (h *Hub) histLimits(room string) (history.Limits, bool) {
	if h.opts.History.Store == nil {
		return history.Limits{}, false
	}
	return h.opts.History.Limits(room)
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
			if took, start := rec.offer(c, cs, r, e); took {
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
// missing (nows.unrecovered), but those still recovering, whose own
// cursor tells them. r.mu is held.
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
		if rec := c.state().recov[r.name]; rec != nil && !rec.isLive() {
			continue // its own cursor tells it
		}
		if c.state().queue.offerKeep(c, o.entryFor(c)) == offeredStart {
			started = append(started, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range started {
		c.startWriter(&c.hs.Load().queue)
	}
}

// connRecovery is the way back of a connection that joined a room with
// history with a position (docs/recovery-design.md §4, "Per
// connection"): its own cursor takes the node's entries and its reads of
// the store until it is at the node's position; then it is live and
// gets the node's entries through its queue, as every member does.
type connRecovery struct {
	mu       sync.Mutex
	cur      *recovery.Cursor
	since    bool // the join had a position: its reply says recovered
	fetching bool // a read is out
	live     bool // caught up with the node
}

// isLive reports whether rec has caught up with the node.
func (rec *connRecovery) isLive() bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.live
}

// offer gives entry e of the node's cursor to rec, unless it is live,
// and reports whether rec took it (c gets it through rec's cursor, or
// has it already) and whether a writer is to be started for c. One
// answer under rec.mu: rec may go live on e itself, which c must then
// not get again as a live entry. r.mu and Hub.mu (read) are held.
func (rec *connRecovery) offer(c *Conn, cs *connState, r *histRoom, e history.Entry) (took, started bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.live {
		return false, false
	}
	started = rec.queue(c, cs, r, rec.cur.Offer(e), 0, history.Position{})
	rec.catchUp(e.Pos)
	return true, started
}

// catchUp makes rec live when it is at node, the node's position, with
// nothing waiting and no read out. rec.mu is held.
func (rec *connRecovery) catchUp(node history.Position) {
	if !rec.fetching && rec.cur.Pending() == 0 && rec.cur.Pos() == node {
		rec.live = true
	}
}

// queue queues the step of rec's cursor for c, in its order: the join's
// reply (to request id, with top, the store's top when read), a loss
// (nows.unrecovered), the entries. A recovery with more entries waiting
// than c's queue holds closes c with 1013: it recovers when it comes
// back. It reports whether a writer is to be started. rec.mu is held.
func (rec *connRecovery) queue(c *Conn, cs *connState, r *histRoom, st recovery.Step, id int64, top history.Position) bool {
	var frames [][]byte
	if st.Joined && id != 0 {
		j := wire.Joined{Room: r.name}
		if top.Epoch != "" {
			j.Pos = &top
		}
		if rec.since {
			ok := st.Lost == ""
			j.Recovered, j.Reason = &ok, st.Lost
		}
		if b, err := wire.EncodeReply(id, j); err == nil {
			frames = append(frames, b)
		}
	}
	if st.Lost != "" && (!st.Joined || !rec.since) {
		pos := rec.cur.Pos()
		if len(st.Send) > 0 {
			pos = history.Position{Epoch: st.Send[0].Pos.Epoch, Offset: st.Send[0].Prev}
		}
		if b, err := wire.EncodeEvent(wire.EventUnrecovered, 0, wire.Unrecovered{Room: r.name, Reason: st.Lost, Pos: pos}); err == nil {
			frames = append(frames, b)
		}
	}
	for _, e := range st.Send {
		if e.Except != "" && e.Except == cs.id {
			frames = append(frames, wire.EncodePos(r.name, e.Pos))
		} else {
			frames = append(frames, histFrame(r.name, e))
		}
	}
	started := false
	for _, b := range frames {
		o := outgoing{typ: websocket.MessageText, data: b}
		switch cs.queue.offerKeep(c, o.entryFor(c)) {
		case offeredStart:
			started = true
			c.observeData(EventSent, o.typ, len(b))
		case offered:
			c.observeData(EventSent, o.typ, len(b))
		case offerOverflow:
			cs.queue.logOverflow(c)
		}
	}
	if rec.cur.Pending() > cs.queue.opts.MaxMessages {
		cs.queue.closeInOrder(c, CloseStatus{Code: websocket.StatusTryAgainLater, Reason: "recovery too slow", Cause: CauseSlow})
	}
	return started
}

// joinSince joins c to room, which has history on this hub, and
// recovers what c missed after since (nil: after the room's top, read
// before the join): it queues the reply to request id, then the missed
// entries, then the live ones, each once, in the room's order. It reads
// the store on the calling goroutine (the events worker), each read
// bounded by PublishTimeout, until c has caught up or is waiting for the
// node's feed to catch up with it. It reports false, having done
// nothing, when room has no history here or c is in it already.
func (c *Conn) joinSince(room string, since *history.Position, id int64) (bool, error) {
	h := c.Hub()
	if h.hist == nil || room == "" {
		return false, nil
	}
	lim, ok := h.hist.cfg.Limits(room)
	if !ok {
		return false, nil
	}
	h.use()
	start := history.Position{}
	if since != nil {
		start = *since
	} else {
		start = h.hist.readTop(room, lim)
	}
	rec := &connRecovery{since: since != nil, fetching: true}
	cur, st := recovery.New(start)
	rec.cur = cur
	if added, err := c.join(room, rec); !added {
		return err != nil, nil // in room already, or closing
	}
	cs := c.state()
	deadline := time.Now().Add(4 * h.opts.PublishTimeout)
	for st.Fetch {
		ctx, cancel := context.WithTimeout(h.hist.ctx, h.opts.PublishTimeout)
		res, err := h.hist.cfg.Store.Since(ctx, room, st.From, histPage, lim)
		cancel()
		h.hist.mu.Lock()
		r := h.hist.rooms[room]
		h.hist.mu.Unlock()
		if r == nil {
			return true, nil // c left, or the hub closed
		}
		r.mu.Lock()
		h.mu.RLock()
		member := cs.recov[room] == rec
		h.mu.RUnlock()
		if !member {
			r.mu.Unlock()
			return true, nil // c left
		}
		rec.mu.Lock()
		if err != nil {
			h.log.Debug("nows: hub: history read", "room", room, "err", err)
			st = rec.cur.Failed()
			res.Top = history.Position{}
		} else {
			st = rec.cur.Fetched(res)
		}
		rec.fetching = st.Fetch
		started := rec.queue(c, cs, r, st, id, res.Top)
		node, at := r.cur.Pos(), rec.cur.Pos()
		rec.catchUp(node)
		behind := at.Epoch < node.Epoch || at.Epoch == node.Epoch && at.Offset < node.Offset
		if !rec.live && !rec.fetching && (rec.cur.Gap() || behind && rec.cur.Pending() == 0) {
			if time.Now().Before(deadline) {
				st = rec.cur.Refetch()
				rec.fetching = st.Fetch
			} else {
				cs.queue.closeInOrder(c, CloseStatus{Code: websocket.StatusTryAgainLater, Reason: "recovery too slow", Cause: CauseSlow})
			}
		}
		rec.mu.Unlock()
		r.mu.Unlock()
		if started {
			c.startWriter(&cs.queue)
		}
	}
	return true, nil
}
