package framework

import (
	"cmp"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/recovery"
	"github.com/nowebsocket/nows/internal/wire"
)

// This file holds one connection's side of a room with history
// (internal/recovery/design.md §4, "Per connection"): its way back after a
// join with a position, and the pause of its messages while the app's
// OnUnrecovered (framework/events) runs after a loss.

// connRecovery is the state of a nows.v1 member in a room with history.
// A member that joined with events' nows.join (joinSince) has a cursor of
// its own that takes the node's entries and its reads of the store until
// it is at the node's position; then it is live and gets the node's
// entries through its queue, as every member does. A member that joined
// otherwise is live from the start (no cursor). Either holds its frames
// of the room back while the app's OnUnrecovered runs after a loss told
// to it, so that what the hook sends (a snapshot) comes first.
type connRecovery struct {
	mu       sync.Mutex
	cur      *recovery.Cursor // nil: live from the start
	since    bool             // the join had a position: its reply says recovered
	fetching bool             // a read is out
	live     bool             // caught up with the node
	nodeLost history.Reason   // the node's last loss while recovering, not told to it

	// While holding, frames wait in held; marks are where the frames of
	// each further loss told meanwhile begin (the hook of each runs in
	// turn, and each resume lets out the frames up to the next mark).
	holding bool
	held    []outgoing
	marks   []int
}

// liveMember returns the state of c joining room without a position, a
// nows.v1 member of a room with history, or nil for any other.
func (hh *histHub) liveMember(c *Conn, room string) *connRecovery {
	if c.Subprotocol() != wire.Subprotocol {
		return nil
	}
	if _, ok := hh.cfg.Limits(room); !ok {
		return nil
	}
	return &connRecovery{live: true}
}

// offer gives entry e of the node's cursor to rec: to its cursor while it
// recovers, to its held frames while the app's hook runs. It reports
// whether it took e (else e goes to c's queue as to every member), and
// whether a writer is to be started for c. r.mu and Hub.mu (read) are
// held.
func (rec *connRecovery) offer(c *Conn, cs *connState, r *histRoom, e history.Entry) (taken, started bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch {
	case !rec.live:
		started = rec.queue(c, cs, r, rec.cur.Offer(e), 0, history.Position{})
		if !rec.fetching && rec.cur.Pending() > 0 {
			// No read of c's own is to come, and the node's entries no
			// longer chain to c's: the node lost some after c's
			// position (nodeLost). c is told, and goes on from them.
			st := rec.cur.Skip()
			if st.Lost != "" {
				st.Lost = cmp.Or(rec.nodeLost, st.Lost)
			}
			started = rec.queue(c, cs, r, st, 0, history.Position{}) || started
		}
		rec.catchUp(e.Pos)
		return true, started
	case rec.holding:
		rec.put(c, cs, frameFor(cs, r.name, e))
		return true, false
	}
	return false, false
}

// tellLost queues o, the node's nows.unrecovered, for a live rec, and has
// the app's hook run; one still recovering is told by its own cursor
// (offer), with the node's reason when the loss reaches it. It
// reports whether a writer is to be started. Hub.mu (read) is held.
func (rec *connRecovery) tellLost(c *Conn, cs *connState, room string, reason history.Reason, o outgoing) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.live {
		rec.nodeLost = reason
		return false
	}
	started := rec.put(c, cs, o)
	rec.askHook(c, room, reason)
	return started
}

// catchUp makes rec live when it is at node, the node's position, with
// nothing waiting and no read out. rec.mu is held.
func (rec *connRecovery) catchUp(node history.Position) {
	if !rec.fetching && rec.cur.Pending() == 0 && rec.cur.Pos() == node {
		rec.live = true
	}
}

// frameFor is what c gets of entry e of room: nows.pos when it was left
// out, else histFrame.
func frameFor(cs *connState, room string, e history.Entry) outgoing {
	if e.Except != "" && e.Except == cs.id {
		return outgoing{typ: websocket.MessageText, data: wire.EncodePos(room, e.Pos)}
	}
	return outgoing{typ: websocket.MessageText, data: histFrame(room, e)}
}

// queue queues the step of rec's cursor for c, in its order: the join's
// reply (to request id, with top, the store's top when read), a loss
// (nows.unrecovered, unless the reply says it), the app's hook when a
// loss was told, the entries. A recovery with more entries waiting than
// c's queue holds closes c with 1013: it recovers when it comes back. It
// reports whether a writer is to be started. rec.mu is held.
func (rec *connRecovery) queue(c *Conn, cs *connState, r *histRoom, st recovery.Step, id int64, top history.Position) bool {
	var told []outgoing
	replied := st.Joined && id != 0
	if replied {
		j := wire.Joined{Room: r.name}
		if top.Epoch != "" {
			j.Pos = &top
		}
		if rec.since {
			ok := st.Lost == ""
			j.Recovered, j.Reason = &ok, st.Lost
		}
		if b, err := wire.EncodeReply(id, j); err == nil {
			told = append(told, outgoing{typ: websocket.MessageText, data: b})
		}
	}
	if st.Lost != "" && !(replied && rec.since) {
		pos := rec.cur.Pos()
		if len(st.Send) > 0 {
			pos = history.Position{Epoch: st.Send[0].Pos.Epoch, Offset: st.Send[0].Prev}
		}
		if b, err := wire.EncodeEvent(wire.EventUnrecovered, 0, wire.Unrecovered{Room: r.name, Reason: st.Lost, Pos: pos}); err == nil {
			told = append(told, outgoing{typ: websocket.MessageText, data: b})
		}
	}
	started := rec.put(c, cs, told...)
	if st.Lost != "" {
		rec.askHook(c, r.name, st.Lost)
	}
	frames := make([]outgoing, 0, len(st.Send))
	for _, e := range st.Send {
		frames = append(frames, frameFor(cs, r.name, e))
	}
	started = rec.put(c, cs, frames...) || started
	if rec.cur.Pending() > cs.queue.opts.MaxMessages {
		cs.queue.closeInOrder(c, CloseStatus{Code: websocket.StatusTryAgainLater, Reason: "recovery too slow", Cause: CauseSlow})
	}
	return started
}

// put queues frames for c, in order, or holds them while the app's hook
// runs; more held than c's queue takes closes c with 1013, as a full
// queue would. It reports whether a writer is to be started. rec.mu is
// held.
func (rec *connRecovery) put(c *Conn, cs *connState, frames ...outgoing) bool {
	if rec.holding {
		if len(rec.held)+len(frames) > cs.queue.opts.MaxMessages {
			cs.queue.closeInOrder(c, CloseStatus{Code: websocket.StatusTryAgainLater, Reason: "recovery too slow", Cause: CauseSlow})
			return false
		}
		rec.held = append(rec.held, frames...)
		return false
	}
	return offerFrames(c, cs, frames)
}

// offerFrames queues frames for c and reports whether a writer is to be
// started.
func offerFrames(c *Conn, cs *connState, frames []outgoing) bool {
	started := false
	for _, o := range frames {
		switch cs.queue.offerKeep(c, o.entryFor(c)) {
		case offeredStart:
			started = true
			c.observeData(EventSent, o.typ, len(o.data))
		case offered:
			c.observeData(EventSent, o.typ, len(o.data))
		case offerOverflow:
			cs.queue.logOverflow(c)
		}
	}
	return started
}

// askHook has the app's OnUnrecovered run for c's loss in room, on c's
// events worker, if its handler has one: rec holds c's frames of room
// from now on, until the hook has returned nil (resume); an error or a
// panic of the hook closes c, and they are never sent. rec.mu is held.
func (rec *connRecovery) askHook(c *Conn, room string, reason history.Reason) {
	if evhook.Unrecovered == nil {
		return // framework/events is not linked in: no hook
	}
	was, mark := rec.holding, len(rec.held)
	rec.holding = true
	if !evhook.Unrecovered(c, room, reason, func() { rec.resume(c, room) }) {
		rec.holding = was
		return
	}
	if was {
		rec.marks = append(rec.marks, mark)
	}
}

// resume lets out the frames held for c until the next loss's mark, or
// all of them, after the app's hook has run; frames of a room c has left
// are dropped.
func (rec *connRecovery) resume(c *Conn, room string) {
	h := c.Hub()
	cs := c.state()
	h.mu.RLock()
	member := cs.recov[room] == rec
	rec.mu.Lock()
	out := rec.held
	if len(rec.marks) > 0 {
		n := rec.marks[0]
		out, rec.held = rec.held[:n:n], rec.held[n:]
		rec.marks = rec.marks[1:]
		for i := range rec.marks {
			rec.marks[i] -= n
		}
	} else {
		rec.held, rec.holding = nil, false
	}
	started := member && offerFrames(c, cs, out)
	rec.mu.Unlock()
	h.mu.RUnlock()
	if started {
		c.startWriter(&cs.queue)
	}
}

// joinSince joins c to room, which has history on this hub, and
// recovers what c missed after since (nil: after the room's top, read
// before the join): it queues the reply to request id, then the missed
// entries, then the live ones, each once, in the room's order; a loss
// told to c (the reply's recovered false, or nows.unrecovered) has the
// app's OnUnrecovered run before the entries after it. It reads the
// store on the calling goroutine (the events worker), each read taking a
// turn (histReaders) and then bounded by PublishTimeout, until c has caught up or is waiting for the node's
// feed to catch up with it. It reports false, having done nothing, when
// room has no history here or c is in it already.
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
		start = h.hist.readTop(c.ctx, room, lim)
	}
	rec := &connRecovery{since: since != nil, fetching: true}
	cur, st := recovery.New(start)
	rec.cur = cur
	if added, err := c.join(room, rec); !added {
		return err != nil, nil // in room already, or closing
	}
	cs := c.state()
	var deadline time.Time // of the reads that fill gaps; from the first answer
	for st.Fetch {
		res, err := h.hist.read(c.ctx, room, st.From, histPage, lim)
		if deadline.IsZero() {
			deadline = time.Now().Add(4 * h.opts.PublishTimeout)
		}
		next, more, started := rec.fetched(c, cs, room, id, res, err, deadline)
		if started {
			c.startWriter(&cs.queue)
		}
		if !more {
			return true, nil
		}
		st = next
	}
	return true, nil
}

// fetched takes the answer to one of joinSince's reads (res, or err) and
// returns the next step; more is false when c left the room or the hub
// closed meanwhile; started, when a writer is to be started.
func (rec *connRecovery) fetched(c *Conn, cs *connState, room string, id int64, res history.Result, err error, deadline time.Time) (st recovery.Step, more, started bool) {
	h := c.Hub()
	h.hist.mu.Lock()
	r := h.hist.rooms[room]
	h.hist.mu.Unlock()
	if r == nil {
		return st, false, false // c left, or the hub closed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if cs.recov[room] != rec {
		return st, false, false // c left
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err != nil {
		h.log.Debug("nows: hub: history read", "room", room, "err", err)
		st = rec.cur.Failed()
		res.Top = history.Position{}
	} else {
		st = rec.cur.Fetched(res)
	}
	rec.fetching = st.Fetch
	started = rec.queue(c, cs, r, st, id, res.Top)
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
	return st, true, started
}
