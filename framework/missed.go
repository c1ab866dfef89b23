package framework

import (
	"fmt"
	"time"
)

// This file counts what this node missed of the others. Every envelope a
// node publishes carries its number (envelope.pub: 1, 2, ...; numbered in
// publishPayload, in the order of publication), and a dropped one (outbox
// full) skips a number, so a receiver that sees a number jump knows how
// many envelopes of that node it did not get: published while this node's
// or that node's broker connection was down, lost by a broker server that
// died, or never sent. Each gap is counted (stats: Missed), reported by
// Err, logged, and makes this node ask that node for its presence again.
// A number lower than the last one is a node restarted under the same
// name: it starts again, nothing is counted.

// peerForget is how long, in presence intervals, a silent node's numbers
// are kept: one heard again within it has its gap counted; after it, it
// starts again as new.
const peerForget = 100

// peerSeq is what this node knows of another node's publications.
type peerSeq struct {
	pub   uint64    // the number of its last envelope received, 0 for none
	heard time.Time // when any envelope of it came last
}

// legacy reports whether a version 1 envelope, of a node of an earlier
// version, came within legacyIntervals: then this node publishes version
// 1 too, which that node reads (envelope.go).
func (h *Hub) legacy() bool {
	at := h.legacyAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < legacyIntervals*h.opts.PresenceInterval
}

// nextPub returns the number of the next envelope published. h.pubMu is
// held.
func (h *Hub) nextPub() uint64 {
	h.pubSeq += 1 + h.pubSkipped.Swap(0)
	return h.pubSeq
}

// track notes an envelope of another node: a sign of life, and a gap in
// its numbers.
func (h *Hub) track(e *envelope) {
	now := time.Now()
	var missed uint64
	h.rxMu.Lock()
	if h.peers == nil {
		h.peers = make(map[string]*peerSeq)
	}
	ps := h.peers[e.node]
	if ps == nil {
		ps = &peerSeq{}
		h.peers[e.node] = ps
	}
	ps.heard = now
	if e.pub != 0 {
		if ps.pub != 0 && e.pub > ps.pub+1 {
			missed = e.pub - ps.pub - 1
		}
		ps.pub = e.pub
	}
	if e.kind == kindBye {
		delete(h.peers, e.node)
	}
	h.rxMu.Unlock()
	if missed > 0 {
		h.missed(e.node, missed)
	}
}

// missed reports n envelopes of node missed, and asks node for its
// presence again.
func (h *Hub) missed(node string, n uint64) {
	total := h.counters.missed.Add(n)
	err := fmt.Errorf("%w: missed %d messages from node %s (published there, never received here)", ErrBroker, n, node)
	h.errMu.Lock()
	h.missErr, h.missAt = err, time.Now()
	h.errMu.Unlock()
	h.log.Warn("nows: hub: missed messages from another node; asking for its presence again", "node", node, "missed", n, "total", total)
	h.resync(node)
}

// heardTimes returns when each other node was last heard from, and
// forgets the ones silent for peerForget intervals.
func (h *Hub) heardTimes() map[string]time.Time {
	forget := time.Now().Add(-peerForget * h.opts.PresenceInterval)
	h.rxMu.Lock()
	defer h.rxMu.Unlock()
	heard := make(map[string]time.Time, len(h.peers))
	for node, ps := range h.peers {
		if ps.heard.Before(forget) {
			delete(h.peers, node)
			continue
		}
		heard[node] = ps.heard
	}
	return heard
}
