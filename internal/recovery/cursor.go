// Package recovery holds the seam between a room's history and its live
// stream (internal/recovery/design.md): a Cursor takes entries from both, in
// any order, duplicated or not, and hands them on once each, in order,
// with no gap, or says that some may be missing. It is pure: the caller
// does the reads, the sends and the timers.
package recovery

import (
	"cmp"
	"slices"

	"github.com/nowebsocket/nows/framework/history"
)

// Cursor follows one room for one reader: a connection that joins with a
// position (its first fetch recovers what it missed), or a node that
// serves the room's members (its first fetch finds the room's top). It is
// not safe for concurrent use.
//
// An entry is handed on when it chains to the last one handed on (its
// Prev is that one's offset); an entry at or before it is a duplicate and
// dropped; an entry after a gap waits in pending until the gap is filled,
// by the live stream or by a fetch. While a fetch is out, live entries
// wait, so that the fetched ones go first. Epochs sort by age (a store
// makes them so: history.Position): an entry of an older epoch than the
// cursor's is a straggler and dropped, one of a newer epoch moves the
// cursor to it, with a Lost step.
type Cursor struct {
	pos      history.Position // the last entry handed on, or the position started from
	pending  []history.Entry  // entries after pos waiting for a missing one, by (epoch, offset)
	fetching bool             // a fetch is out
	joined   bool             // the first fetch was answered
	adopt    bool             // no position (the store failed at the start): the next live entry or fetch gives it
	owed     bool             // a fetch is owed: one failed, or Refetch came while one was out
	skipped  bool             // Skip moved pos while a fetch was out
}

// Step is what the caller does after a call, in this order: reply to the
// join when Joined, tell the reader when Lost, send Send, fetch when
// Fetch.
type Step struct {
	// Joined: the first fetch was answered; the join's reply says
	// recovered (Lost is "") or not.
	Joined bool
	// Lost: entries before Send may be missing (not recovered, or the
	// history's epoch changed): the reader is told, and its app resyncs.
	Lost history.Reason
	// Send: entries to hand on, in order, each chained to the one before.
	Send []history.Entry
	// Fetch: read the store's entries after From (Store.Since) and give
	// the result to Fetched, or its failure to Failed.
	Fetch bool
	From  history.Position
}

// New returns a cursor that starts after since (a zero since: at the
// room's top, recovering nothing), and the step that asks the first fetch.
func New(since history.Position) (*Cursor, Step) {
	c := &Cursor{pos: since, fetching: true}
	return c, Step{Fetch: true, From: since}
}

// Pos returns the position of the last entry handed on (before the first
// fetch is answered: the position started from).
func (c *Cursor) Pos() history.Position { return c.pos }

// Pending returns how many entries wait: the caller bounds it (a reader
// whose fetch is too slow is closed, to recover when it comes back).
func (c *Cursor) Pending() int { return len(c.pending) }

// Gap reports whether entries wait for a missing one, or a fetch is owed,
// with no fetch out: if it lasts, the caller calls Refetch.
func (c *Cursor) Gap() bool { return (len(c.pending) > 0 || c.owed) && !c.fetching }

// Refetch asks a fetch after the current position: on a gap that lasted,
// and when the live stream was interrupted. With a fetch out, which may
// have read the store before the interruption, it asks one more once that
// one is answered.
func (c *Cursor) Refetch() Step {
	if c.fetching {
		c.owed = true
		return Step{}
	}
	c.fetching, c.owed = true, false
	return Step{Fetch: true, From: c.pos}
}

// Offer takes an entry of the live stream.
func (c *Cursor) Offer(e history.Entry) Step {
	if c.fetching {
		c.hold(e)
		return Step{}
	}
	var st Step
	switch {
	case c.adopt:
		c.adopt = false
		c.pos = history.Position{Epoch: e.Pos.Epoch, Offset: e.Prev}
	case e.Pos.Epoch < c.pos.Epoch:
		// A straggler of an older epoch, dropped. The store is asked
		// all the same (Gap), once: if its clock went back across a
		// reset, this "older" epoch is the current one, and only the
		// store can say so.
		c.owed = true
		return Step{}
	case e.Pos.Epoch > c.pos.Epoch:
		// A new epoch: the store lost its history; what came before
		// this entry in it cannot be known.
		st.Lost = history.ReasonEpoch
		c.pos = history.Position{Epoch: e.Pos.Epoch, Offset: e.Prev}
		c.pending = nil // all of older epochs
	}
	c.hold(e)
	st.Send = c.drain(nil)
	return st
}

// Fetched takes the answer to the fetch asked.
func (c *Cursor) Fetched(r history.Result) Step {
	skipped := c.skipped
	c.fetching, c.skipped = false, false
	st := Step{Joined: !c.joined}
	c.joined = true
	switch {
	case r.Reason != "" && skipped && atOrAfter(c.pos, r.Top):
		// Skip moved the cursor past this answer's top meanwhile.
	case r.Reason != "" && c.heldTo(r.Top):
		// The store no longer has what follows pos, but the live
		// entries held meanwhile have all of it, up to its top.
	case r.Reason != "":
		st.Lost = r.Reason
		c.pos = r.Top
	case c.pos.Epoch == "": // started at the top, or no position after a failure
		c.pos, c.adopt = r.Top, false
	}
	for _, e := range r.Entries {
		switch {
		case e.Pos.Epoch != c.pos.Epoch || e.Pos.Offset <= c.pos.Offset:
			continue // not of this history, or already handed on
		case e.Prev != c.pos.Offset && st.Lost == "" && len(st.Send) == 0:
			st.Lost = history.ReasonTooOld // the store broke the chain: say so
		case e.Prev != c.pos.Offset:
			// A break after entries to send: send those, fetch the rest
			// again (the cursor says Lost then, if it is still broken).
			c.fetching = true
			st.Fetch, st.From = true, c.pos
			return st
		}
		st.Send = append(st.Send, e)
		c.pos = e.Pos
	}
	if len(r.Entries) > 0 && r.Top.Epoch == c.pos.Epoch && c.pos.Offset < r.Top.Offset {
		// The limit cut the answer: the next page, live entries
		// still waiting.
		c.fetching = true
		st.Fetch, st.From = true, c.pos
		return st
	}
	if newest := c.newestPending(); newest.Pos.Epoch > c.pos.Epoch {
		// The live stream went on in a newer epoch than the store was
		// read in: what came before it there is unknown, and what was
		// fetched is of the epoch left, not sent, so that what is sent
		// chains from the Lost.
		st.Lost, st.Send = history.ReasonEpoch, nil
		c.pos = history.Position{Epoch: newest.Pos.Epoch, Offset: c.firstOf(newest.Pos.Epoch).Prev}
	}
	c.keepEpoch()
	st.Send = c.drain(st.Send)
	if c.owed {
		c.fetching, c.owed = true, false
		st.Fetch, st.From = true, c.pos
	}
	return st
}

// Failed takes the failure of the fetch asked. Before the first answer,
// the reader goes live without recovery (Lost: unavailable), from the
// first live entry of the newest epoch; after it, Gap reports true until
// the caller fetches again with Refetch.
func (c *Cursor) Failed() Step {
	c.fetching, c.skipped = false, false
	if c.joined {
		c.owed = true
		c.keepEpoch()
		return Step{}
	}
	c.joined = true
	st := Step{Joined: true, Lost: history.ReasonUnavailable}
	newest := c.newestPending()
	if newest.Pos.Epoch == "" {
		// No position: the next live entry gives it, or the next
		// fetch (Refetch reads the top).
		c.pending, c.pos, c.adopt = nil, history.Position{}, true
		return st
	}
	c.pos = history.Position{Epoch: newest.Pos.Epoch, Offset: c.firstOf(newest.Pos.Epoch).Prev}
	c.keepEpoch()
	st.Send = c.drain(nil)
	return st
}

// Skip gives up on what the pending entries wait for, when the wait must
// end (a store that cannot be read while the live stream goes on, and the
// caller bounds the entries it keeps): the cursor goes on from the first
// pending entry after its position, of the newest epoch, with Lost
// unavailable unless that entry chains, and sends what chains from it;
// entries after a further gap still wait. Each call hands on at least
// one entry, or finds none after the position, or is before the first
// fetch was answered: then it does nothing. A fetch still out is
// answered as usual: what it brings at or before the new position is
// dropped as duplicates.
func (c *Cursor) Skip() Step {
	if !c.joined {
		return Step{} // the first answer says where the reader starts
	}
	c.pending = slices.DeleteFunc(c.pending, func(e history.Entry) bool {
		return e.Pos.Epoch < c.pos.Epoch || e.Pos.Epoch == c.pos.Epoch && e.Pos.Offset <= c.pos.Offset
	})
	if len(c.pending) == 0 {
		c.pending = nil
		return Step{}
	}
	newest := c.newestPending()
	i, _ := slices.BinarySearchFunc(c.pending, newest.Pos.Epoch, func(e history.Entry, ep string) int { return cmp.Compare(e.Pos.Epoch, ep) })
	first := c.pending[i]
	c.pending = c.pending[i+1:]
	var st Step
	if first.Pos.Epoch != c.pos.Epoch || first.Prev != c.pos.Offset {
		st.Lost = history.ReasonUnavailable
		c.adopt = false
	}
	c.pos, c.skipped = first.Pos, c.fetching
	st.Send = c.drain([]history.Entry{first})
	return st
}

// atOrAfter reports whether a is at or after b.
func atOrAfter(a, b history.Position) bool {
	return a.Epoch > b.Epoch || a.Epoch == b.Epoch && a.Offset >= b.Offset
}

// heldTo reports whether the pending entries chain from pos up to top,
// in pos's epoch.
func (c *Cursor) heldTo(top history.Position) bool {
	if top.Epoch != c.pos.Epoch || c.pos.Epoch == "" {
		return false
	}
	at := c.pos.Offset
	for _, e := range c.pending {
		switch {
		case e.Pos.Epoch != c.pos.Epoch || e.Pos.Offset <= at:
		case e.Prev != at:
			return at >= top.Offset
		default:
			at = e.Pos.Offset
		}
	}
	return at >= top.Offset
}

// newestPending returns the last pending entry: of the newest epoch.
func (c *Cursor) newestPending() history.Entry {
	if len(c.pending) == 0 {
		return history.Entry{}
	}
	return c.pending[len(c.pending)-1]
}

// firstOf returns the first pending entry of epoch, which has one.
func (c *Cursor) firstOf(epoch string) history.Entry {
	i, _ := slices.BinarySearchFunc(c.pending, epoch, func(e history.Entry, ep string) int { return cmp.Compare(e.Pos.Epoch, ep) })
	return c.pending[i]
}

// keepEpoch drops the pending entries of other epochs than the cursor's.
func (c *Cursor) keepEpoch() {
	c.pending = slices.DeleteFunc(c.pending, func(p history.Entry) bool { return p.Pos.Epoch != c.pos.Epoch })
}

// hold puts e among the pending entries, in (epoch, offset) order, once.
func (c *Cursor) hold(e history.Entry) {
	i, found := slices.BinarySearchFunc(c.pending, e, func(a, b history.Entry) int {
		return cmp.Or(cmp.Compare(a.Pos.Epoch, b.Pos.Epoch), cmp.Compare(a.Pos.Offset, b.Pos.Offset))
	})
	if !found {
		c.pending = slices.Insert(c.pending, i, e)
	}
}

// drain appends to send the pending entries that chain from pos, and
// drops those at or before it, and those of other epochs before them.
func (c *Cursor) drain(send []history.Entry) []history.Entry {
	n := 0
	for ; n < len(c.pending); n++ {
		e := c.pending[n]
		if e.Pos.Epoch != c.pos.Epoch || e.Pos.Offset <= c.pos.Offset {
			continue // held during a fetch, of an older epoch; or a duplicate
		}
		if e.Prev != c.pos.Offset {
			break
		}
		send = append(send, e)
		c.pos = e.Pos
	}
	c.pending = slices.Delete(c.pending, 0, n)
	if len(c.pending) == 0 {
		c.pending = nil
	}
	return send
}
