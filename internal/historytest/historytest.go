// Package historytest is the conformance test of history.Store engines
// (internal/recovery/design.md): the memory, Redis and JetStream stores
// run it. It assumes nothing an engine may do otherwise: offsets only
// grow (JetStream skips), so continuity is checked with Prev. Broadcast
// and ExpectStoreOrder check nodes that share an engine.
package historytest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework/history"
)

// Run tests the stores that open returns, a new empty one per subtest.
func Run(t *testing.T, open func(t *testing.T) history.Store) {
	t.Run("Chain", func(t *testing.T) { testChain(t, open(t)) })
	t.Run("Window", func(t *testing.T) { testWindow(t, open(t)) })
	t.Run("TTL", func(t *testing.T) { testTTL(t, open(t)) })
	t.Run("Watch", func(t *testing.T) { testWatch(t, open(t)) })
}

var lim = history.Limits{Size: 100, TTL: time.Minute}

func appendN(t *testing.T, s history.Store, room string, n int, l history.Limits) []history.Entry {
	t.Helper()
	var es []history.Entry
	for i := range n {
		e, err := s.Append(t.Context(), room, history.Entry{Data: fmt.Appendf(nil, "%s-%d", room, i)}, l)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		es = append(es, e)
	}
	return es
}

// checkChain reports entries that do not chain from prev.
func checkChain(t *testing.T, prev history.Position, es []history.Entry) {
	t.Helper()
	for _, e := range es {
		if e.Pos.Epoch != prev.Epoch || e.Prev != prev.Offset || e.Pos.Offset <= prev.Offset {
			t.Fatalf("entry %+v after %v: want the same epoch, Prev %d, a greater offset", e.Pos, prev, prev.Offset)
		}
		prev = e.Pos
	}
}

func testChain(t *testing.T, s history.Store) {
	ctx := t.Context()
	top, err := s.Since(ctx, "r", history.Position{}, 10, lim)
	if err != nil || top.Top.Epoch == "" || top.Top.Offset != 0 || top.Reason != "" || len(top.Entries) != 0 {
		t.Fatalf("Since on a new room = %+v, %v; want an epoch, offset 0", top, err)
	}
	data := []byte("kept")
	first, err := s.Append(ctx, "r", history.Entry{Binary: true, Data: data, Except: "c.1"}, lim)
	if err != nil {
		t.Fatal(err)
	}
	copy(data, "XXXX") // the store keeps its own copy
	es := append([]history.Entry{first}, appendN(t, s, "r", 9, lim)...)
	checkChain(t, top.Top, es)
	res, err := s.Since(ctx, "r", top.Top, 100, lim)
	if err != nil || res.Reason != "" || len(res.Entries) != 10 || res.Top != es[9].Pos {
		t.Fatalf("Since(start) = %d entries, top %v, reason %q, %v; want 10, %v", len(res.Entries), res.Top, res.Reason, err, es[9].Pos)
	}
	if e := res.Entries[0]; !e.Binary || string(e.Data) != "kept" || e.Except != "c.1" {
		t.Errorf("first entry read back as %+v; want binary %q except c.1", e, "kept")
	}
	checkChain(t, top.Top, res.Entries)
	res, _ = s.Since(ctx, "r", es[3].Pos, 2, lim)
	if len(res.Entries) != 2 || res.Entries[0].Pos != es[4].Pos || res.Entries[1].Pos != es[5].Pos {
		t.Errorf("Since(4th) limit 2 = %+v; want the 5th and 6th", res.Entries)
	}
	if res, _ = s.Since(ctx, "r", es[9].Pos, 10, lim); res.Reason != "" || len(res.Entries) != 0 {
		t.Errorf("Since(top) = %+v; want recovered, nothing", res)
	}
	if res, _ = s.Since(ctx, "r", history.Position{Epoch: es[0].Pos.Epoch + "x", Offset: 1}, 10, lim); res.Reason != history.ReasonEpoch {
		t.Errorf("Since(another epoch) = %+v; want epoch", res)
	}
	if res, _ = s.Since(ctx, "r", history.Position{Epoch: es[0].Pos.Epoch, Offset: es[9].Pos.Offset + 1}, 10, lim); res.Reason != history.ReasonEpoch {
		t.Errorf("Since(past the top) = %+v; want epoch", res)
	}
	if other, _ := s.Since(ctx, "other", history.Position{}, 0, lim); other.Top.Offset != 0 {
		t.Errorf("another room's top = %v; want offset 0: rooms are apart", other.Top)
	}
}

func testWindow(t *testing.T, s history.Store) {
	small := history.Limits{Size: 5, TTL: time.Minute}
	start, _ := s.Since(t.Context(), "w", history.Position{}, 0, small)
	es := appendN(t, s, "w", 12, small)
	for i, want := range map[int]history.Reason{-1: history.ReasonTooOld, 5: history.ReasonTooOld, 6: "", 10: ""} {
		since := start.Top
		if i >= 0 {
			since = es[i].Pos
		}
		res, err := s.Since(t.Context(), "w", since, 100, small)
		if err != nil {
			t.Fatal(err)
		}
		if res.Reason != want {
			t.Errorf("Since(%v) with the last 5 of 12 kept: reason %q, want %q", since, res.Reason, want)
		}
		if want == "" {
			checkChain(t, since, res.Entries)
			if n := len(res.Entries); n != 11-i {
				t.Errorf("Since(%v): %d entries, want %d", since, n, 11-i)
			}
		}
	}
}

func testTTL(t *testing.T, s history.Store) {
	short := history.Limits{Size: 100, TTL: 300 * time.Millisecond}
	start, _ := s.Since(t.Context(), "t", history.Position{}, 0, short)
	es := appendN(t, s, "t", 3, short)
	time.Sleep(400 * time.Millisecond)
	more := appendN(t, s, "t", 1, short)
	if res, _ := s.Since(t.Context(), "t", start.Top, 100, short); res.Reason != history.ReasonTooOld {
		t.Errorf("Since(start) after the TTL: %+v; want too_old", res)
	}
	res, _ := s.Since(t.Context(), "t", es[2].Pos, 100, short)
	if res.Reason != "" || len(res.Entries) != 1 || res.Entries[0].Pos != more[0].Pos {
		t.Errorf("Since(last expired) = %+v; want the one after it: the position is known, only entries expire", res)
	}
}

func testWatch(t *testing.T, s history.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	got := map[string][]history.Entry{}
	live := make(chan struct{})
	done := make(chan error, 1)
	first := true
	go func() {
		done <- s.Watch(ctx, func(u history.Update) {
			if first {
				first = false
				if !u.Lost {
					t.Errorf("first update %+v: want Lost", u)
				}
				close(live)
				return
			}
			if u.Lost {
				return // an interruption: a real engine may have them
			}
			mu.Lock()
			got[u.Room] = append(got[u.Room], u.Entry)
			mu.Unlock()
		})
	}()
	select {
	case <-live:
	case err := <-done:
		t.Fatalf("Watch: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch sent no first Lost update")
	}
	// Four writers, two rooms: each room's feed is in offset order.
	var wg sync.WaitGroup
	var amu sync.Mutex
	appended := map[string][]history.Entry{}
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				room := []string{"a", "b"}[(w+i)%2]
				e, err := s.Append(ctx, room, history.Entry{Data: fmt.Appendf(nil, "%d-%d", w, i)}, lim)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				amu.Lock()
				appended[room] = append(appended[room], e)
				amu.Unlock()
			}
		})
	}
	wg.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(got["a"]) + len(got["b"])
		mu.Unlock()
		if n >= 200 {
			break
		}
	}
	cancel()
	<-done
	for _, room := range []string{"a", "b"} {
		want := appended[room]
		slices.SortFunc(want, func(x, y history.Entry) int { return cmp.Compare(x.Pos.Offset, y.Pos.Offset) })
		if len(got[room]) != len(want) {
			t.Fatalf("room %s: the feed has %d entries, %d were appended", room, len(got[room]), len(want))
		}
		for i := range want {
			if g := got[room][i]; g.Pos != want[i].Pos || g.Prev != want[i].Prev || !bytes.Equal(g.Data, want[i].Data) {
				t.Fatalf("room %s: feed entry %d is %v, want %v: not in offset order", room, i, g.Pos, want[i].Pos)
			}
		}
	}
}
