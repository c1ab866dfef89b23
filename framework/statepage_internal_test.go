package framework

import (
	"log/slog"
	"slices"
	"testing"
	"time"
)

// pageEnvelope returns page idx of count of state id of node, at seq.
func pageEnvelope(node string, seq, id, idx, count uint64, entries ...stateEntry) *envelope {
	var d []byte
	for _, e := range entries {
		d = appendString(appendString(appendString(d, e.room), e.id), e.user)
	}
	return &envelope{kind: kindStatePage, node: node, seq: seq, data: append(appendUvarints(nil, id, idx, count), d...)}
}

// TestStatePages: a state applies once its last page has come; page 0 of
// a newer state replaces a partial one (counted), a stray page of another
// state is ignored, a page out of sequence drops the partial state
// (counted), joins that come meanwhile are applied after it, and a partial
// state left idle is dropped (counted).
func TestStatePages(t *testing.T) {
	h := newHub(nil, HubOptions{Node: "me", PresenceInterval: time.Second}.withDefaults(), slog.New(slog.DiscardHandler))
	members := func() []string {
		var ids []string
		for _, m := range h.remote.members("r", nil) {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		return ids
	}
	dropped := func() uint64 { return h.counters.chunksDropped.Load() }

	h.onPresence(pageEnvelope("a", 5, 1, 0, 2, stateEntry{"r", "a.1", ""}))
	if got := members(); len(got) != 0 {
		t.Fatalf("after page 1 of 2: members %v, want none yet", got)
	}
	h.onPresence(pageEnvelope("a", 6, 2, 0, 2, stateEntry{"r", "a.2", ""}))
	h.onPresence(pageEnvelope("a", 5, 1, 1, 2, stateEntry{"r", "a.3", ""})) // stray
	h.onPresence(pageEnvelope("a", 6, 2, 1, 2, stateEntry{"r", "a.4", ""}))
	if got, want := members(), []string{"a.2", "a.4"}; !slices.Equal(got, want) {
		t.Fatalf("after state 2: members %v, want %v", got, want)
	}
	if dropped() != 1 {
		t.Fatalf("dropped %d states, want 1 (state 1, superseded)", dropped())
	}

	// A page lost: state 3 is dropped, the members stay those of state 2.
	h.onPresence(pageEnvelope("a", 7, 3, 0, 3, stateEntry{"r", "a.5", ""}))
	h.onPresence(pageEnvelope("a", 7, 3, 2, 3, stateEntry{"r", "a.6", ""}))
	if got, want := members(), []string{"a.2", "a.4"}; !slices.Equal(got, want) || dropped() != 2 {
		t.Fatalf("after a lost page: members %v, dropped %d; want %v, 2", got, dropped(), want)
	}

	// A join while a state's pages come is applied after the state.
	h.onPresence(pageEnvelope("a", 9, 5, 0, 2, stateEntry{"r", "a.8", ""}))
	h.onPresence(&envelope{kind: kindJoin, node: "a", room: "r", id: "a.7", seq: 10})
	h.onPresence(pageEnvelope("a", 9, 5, 1, 2))
	if got, want := members(), []string{"a.7", "a.8"}; !slices.Equal(got, want) {
		t.Fatalf("after state 5 and a join meanwhile: members %v, want %v", got, want)
	}
	h.remote.mu.Lock()
	n := h.remote.nodes["a"]
	seq, stale := n.seq, n.stale
	h.remote.mu.Unlock()
	if seq != 10 || stale {
		t.Fatalf("after state 5 and a join meanwhile: seq %d, stale %v; want 10, false", seq, stale)
	}

	// Left idle for three intervals: dropped.
	h.onPresence(pageEnvelope("a", 8, 4, 0, 2))
	h.expireNodes(time.Now().Add(4 * time.Second))
	if dropped() != 3 {
		t.Fatalf("after an idle partial state: dropped %d, want 3", dropped())
	}
}
