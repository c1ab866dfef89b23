package redishistory_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/nowebsocket/nows/internal/historytest"
	"github.com/nowebsocket/nows/internal/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client returns a new client of rs, closed at the end of the test.
func client(t *testing.T, rs *redistest.Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var lim = history.Limits{Size: 1000, TTL: time.Minute}

// TestConformance runs the engines' conformance test, each subtest with
// a prefix of its own on one redis-server.
func TestConformance(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	n := 0
	historytest.Run(t, func(*testing.T) history.Store {
		n++
		return redishistory.New(rdb, redishistory.Options{Prefix: fmt.Sprintf("t%d:", n)})
	})
}

// feed records what one Watch reports.
type feed struct {
	mu      sync.Mutex
	updates []history.Update
	onLost  func() // called on each Lost, on the watch's goroutine
	cancel  context.CancelFunc
	done    chan error
}

// watch runs s.Watch until the test ends, and waits for its first Lost.
func watch(t *testing.T, s history.Store, onLost func()) *feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{onLost: onLost, cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- s.Watch(ctx, func(u history.Update) {
			if u.Lost && f.onLost != nil {
				f.onLost()
			}
			f.mu.Lock()
			f.updates = append(f.updates, u)
			f.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		f.cancel()
		if err := <-f.done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	f.waitFor(t, "the first Lost", func(us []history.Update) bool { return len(us) > 0 })
	if us := f.snapshot(); !us[0].Lost {
		t.Fatalf("first update %+v: want Lost", us[0])
	}
	return f
}

func (f *feed) snapshot() []history.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]history.Update(nil), f.updates...)
}

// waitFor waits up to 10 s for the updates to satisfy ok.
func (f *feed) waitFor(t *testing.T, what string, ok func([]history.Update) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(f.snapshot()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not on the feed within 10s; it has %d updates", what, len(f.snapshot()))
		}
	}
}

// entries returns the feed's entries of room.
func (f *feed) entries(room string) []history.Entry {
	var es []history.Entry
	for _, u := range f.snapshot() {
		if !u.Lost && u.Room == room {
			es = append(es, u.Entry)
		}
	}
	return es
}

func (f *feed) lost() int {
	n := 0
	for _, u := range f.snapshot() {
		if u.Lost {
			n++
		}
	}
	return n
}

// TestTwoNodes: two Stores on one Redis, as two nodes would have, append
// to the same rooms at once; each one's feed has every entry of both, in
// offset order per room, and both read the same positions.
func TestTwoNodes(t *testing.T) {
	rs := redistest.Start(t)
	nodes := []*redishistory.Store{redishistory.New(client(t, rs), redishistory.Options{}),
		redishistory.New(client(t, rs), redishistory.Options{})}
	feeds := []*feed{watch(t, nodes[0], nil), watch(t, nodes[1], nil)}
	rooms := []string{"a", "b"}
	var wg sync.WaitGroup
	for i, s := range nodes {
		wg.Go(func() {
			for j := range 100 {
				room := rooms[j%2]
				if _, err := s.Append(t.Context(), room, history.Entry{Data: fmt.Appendf(nil, "%d-%d", i, j)}, lim); err != nil {
					t.Errorf("node %d: Append: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, f := range feeds {
		f.waitFor(t, "200 entries", func([]history.Update) bool { return len(f.entries("a"))+len(f.entries("b")) >= 200 })
		for _, room := range rooms {
			es := f.entries(room)
			if len(es) != 100 {
				t.Fatalf("node %d's feed: %d entries of room %s, want 100", i, len(es), room)
			}
			for k, e := range es {
				if e.Pos.Offset != uint64(k+1) || e.Prev != uint64(k) || e.Pos.Epoch != es[0].Pos.Epoch {
					t.Fatalf("node %d's feed, room %s: entry %d at %v prev %d; want offset %d in one epoch", i, room, k, e.Pos, e.Prev, k+1)
				}
			}
		}
	}
	for _, room := range rooms {
		from := feeds[0].entries(room)[0].Pos
		var reads [2]history.Result
		for i, s := range nodes {
			r, err := s.Since(t.Context(), room, history.Position{Epoch: from.Epoch}, 1000, lim)
			if err != nil || r.Reason != "" || len(r.Entries) != 100 {
				t.Fatalf("node %d: Since(room %s, 0) = %d entries, %q, %v; want 100", i, room, len(r.Entries), r.Reason, err)
			}
			reads[i] = r
		}
		for k := range 100 {
			a, b, fe := reads[0].Entries[k], reads[1].Entries[k], feeds[1].entries(room)[k]
			if a.Pos != b.Pos || !bytes.Equal(a.Data, b.Data) || a.Pos != fe.Pos || !bytes.Equal(a.Data, fe.Data) {
				t.Fatalf("room %s, entry %d: node 0 read %v %q, node 1 read %v %q, node 1's feed %v %q; want the same",
					room, k, a.Pos, a.Data, b.Pos, b.Data, fe.Pos, fe.Data)
			}
		}
	}
}

// TestFlushAll: after FLUSHALL, the next Append or Since makes a new
// epoch, which sorts after the old one, and a position of the old epoch
// is not recovered (ReasonEpoch).
func TestFlushAll(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	s := redishistory.New(rdb, redishistory.Options{})
	ctx := t.Context()
	old := map[string]history.Entry{}
	for _, room := range []string{"read-first", "append-first"} {
		for range 3 {
			e, err := s.Append(ctx, room, history.Entry{Data: []byte("x")}, lim)
			if err != nil {
				t.Fatal(err)
			}
			old[room] = e
		}
	}
	checkEpochTime(t, old["read-first"].Pos.Epoch)
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Since(ctx, "read-first", old["read-first"].Pos, 10, lim)
	if err != nil || r.Reason != history.ReasonEpoch || r.Top.Offset != 0 || r.Top.Epoch <= old["read-first"].Pos.Epoch {
		t.Fatalf("Since(old position) after FLUSHALL = %+v, %v; want epoch, offset 0 in an epoch after %s", r, err, old["read-first"].Pos.Epoch)
	}
	e, err := s.Append(ctx, "read-first", history.Entry{Data: []byte("y")}, lim)
	if err != nil || e.Pos != (history.Position{Epoch: r.Top.Epoch, Offset: 1}) || e.Prev != 0 {
		t.Fatalf("Append after the read = %+v, %v; want offset 1 of the epoch read, %s", e.Pos, err, r.Top.Epoch)
	}
	e, err = s.Append(ctx, "append-first", history.Entry{Data: []byte("y")}, lim)
	if err != nil || e.Pos.Offset != 1 || e.Pos.Epoch <= old["append-first"].Pos.Epoch {
		t.Fatalf("Append after FLUSHALL = %+v, %v; want offset 1 in an epoch after %s", e.Pos, err, old["append-first"].Pos.Epoch)
	}
	checkEpochTime(t, e.Pos.Epoch)
	r, err = s.Since(ctx, "append-first", old["append-first"].Pos, 10, lim)
	if err != nil || r.Reason != history.ReasonEpoch || r.Top != e.Pos {
		t.Fatalf("Since(old position) = %+v, %v; want epoch, top %v", r, err, e.Pos)
	}
}

// checkEpochTime checks that epoch starts with the Unix nanoseconds of
// about now, as the memory store's: 16 hex digits, then 8 more.
func checkEpochTime(t *testing.T, epoch string) {
	t.Helper()
	ns, err := strconv.ParseUint(epoch[:min(16, len(epoch))], 16, 64)
	if len(epoch) != 24 || err != nil {
		t.Fatalf("epoch %q: want 24 hex digits", epoch)
	}
	if d := time.Since(time.Unix(0, int64(ns))); d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("epoch %q made at %v: %v from now, want about now", epoch, time.Unix(0, int64(ns)), d)
	}
}

// TestRestart: redis-server killed and started again on its port; Watch
// reports Lost once it has subscribed again (Redis counts its
// subscription when the Lost comes), and entries appended afterwards
// reach it.
func TestRestart(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	s := redishistory.New(rdb, redishistory.Options{})
	var mu sync.Mutex
	var subs []int64
	f := watch(t, s, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := rdb.PubSubNumSub(ctx, "nows:h:feed").Result()
		mu.Lock()
		subs = append(subs, n["nows:h:feed"])
		mu.Unlock()
		if err != nil {
			t.Errorf("PUBSUB NUMSUB at a Lost: %v", err)
		}
	})
	if _, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("before")}, lim); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "the entry before the restart", func([]history.Update) bool { return len(f.entries("r")) == 1 })
	rs.Stop()
	time.Sleep(300 * time.Millisecond) // the feed fails and retries
	rs.Restart(t)
	f.waitFor(t, "a second Lost", func([]history.Update) bool { return f.lost() >= 2 })
	e, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("after")}, lim)
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "the entry after the restart", func([]history.Update) bool { return len(f.entries("r")) == 2 })
	if got := f.entries("r")[1]; got.Pos != e.Pos || string(got.Data) != "after" {
		t.Fatalf("entry after the restart on the feed: %v %q; want %v %q", got.Pos, got.Data, e.Pos, "after")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range subs {
		if n != 1 {
			t.Errorf("Lost %d came with %d subscribers on the feed; want 1: the Lost must follow the subscription", i, n)
		}
	}
}

// TestLargeBinary: a binary message of 1 MiB of every byte value comes
// back exact from Since and from the feed.
func TestLargeBinary(t *testing.T) {
	rs := redistest.Start(t)
	s := redishistory.New(client(t, rs), redishistory.Options{})
	f := watch(t, s, nil)
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	data[0], data[1] = 0, 0xff
	start, err := s.Since(t.Context(), "big", history.Position{}, 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Append(t.Context(), "big", history.Entry{Binary: true, Data: data, Except: "c.7"}, lim)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Since(t.Context(), "big", start.Top, 10, lim)
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("Since = %+v, %v; want the entry", r, err)
	}
	f.waitFor(t, "the entry", func([]history.Update) bool { return len(f.entries("big")) == 1 })
	for src, got := range map[string]history.Entry{"Since": r.Entries[0], "the feed": f.entries("big")[0]} {
		if !got.Binary || got.Except != "c.7" || got.Pos != e.Pos || !bytes.Equal(got.Data, data) {
			t.Errorf("%s: binary %v, except %q, %v, %d bytes (equal %v); want binary, c.7, %v, the 1 MiB sent",
				src, got.Binary, got.Except, got.Pos, len(got.Data), bytes.Equal(got.Data, data), e.Pos)
		}
	}
}

// TestRoomNames: rooms whose names have braces, percent signs, nothing
// or non-ASCII have histories of their own, and the keys keep each
// name whole inside its hash tag.
func TestRoomNames(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	s := redishistory.New(rdb, redishistory.Options{})
	f := watch(t, s, nil)
	names := []string{"a}", "a%7D", "{a}", "", "ünï code", "a:s"}
	for i, room := range names {
		for j := range i + 1 {
			if _, err := s.Append(t.Context(), room, history.Entry{Data: fmt.Appendf(nil, "%s/%d", room, j)}, lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, room := range names {
		r, err := s.Since(t.Context(), room, history.Position{}, 0, lim)
		if err != nil || r.Top.Offset != uint64(i+1) {
			t.Errorf("room %q: top %v, %v; want offset %d", room, r.Top, err, i+1)
		}
		f.waitFor(t, "room "+room, func([]history.Update) bool { return len(f.entries(room)) == i+1 })
		if got := f.entries(room)[i]; string(got.Data) != fmt.Sprintf("%s/%d", room, i) {
			t.Errorf("room %q's last entry on the feed: %q", room, got.Data)
		}
	}
	if n, err := rdb.Exists(t.Context(), "nows:h:{a%7D}:s", "nows:h:{a%257D}:m", "nows:h:{%7Ba%7D}:s").Result(); err != nil || n != 3 {
		t.Errorf("the escaped keys of a}, a%%7D and {a}: %d exist, %v; want 3", n, err)
	}
}

// TestPrefix: two Stores with other prefixes on one Redis keep apart:
// their own positions, their own feed.
func TestPrefix(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	a := redishistory.New(rdb, redishistory.Options{Prefix: "app1:"})
	b := redishistory.New(rdb, redishistory.Options{Prefix: "app2:"})
	fb := watch(t, b, nil)
	for range 3 {
		if _, err := a.Append(t.Context(), "r", history.Entry{Data: []byte("a")}, lim); err != nil {
			t.Fatal(err)
		}
	}
	e, err := b.Append(t.Context(), "r", history.Entry{Data: []byte("b")}, lim)
	if err != nil || e.Pos.Offset != 1 {
		t.Fatalf("app2's first Append = %v, %v; want offset 1", e.Pos, err)
	}
	fb.waitFor(t, "app2's entry", func([]history.Update) bool { return len(fb.entries("r")) >= 1 })
	time.Sleep(50 * time.Millisecond)
	if es := fb.entries("r"); len(es) != 1 || string(es[0].Data) != "b" {
		t.Fatalf("app2's feed: %d entries of r, first %q; want app2's one only", len(es), es[0].Data)
	}
	if n, err := rdb.Exists(t.Context(), "app1:{r}:s", "app1:{r}:m", "app2:{r}:s").Result(); err != nil || n != 3 {
		t.Errorf("keys under the prefixes: %d exist, %v; want 3", n, err)
	}
}

// TestBadLimits: Append and Since refuse a window without size or TTL.
func TestBadLimits(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	s := redishistory.New(rdb, redishistory.Options{})
	for _, l := range []history.Limits{{TTL: time.Minute}, {Size: 1}} {
		if _, err := s.Append(t.Context(), "r", history.Entry{}, l); err == nil {
			t.Errorf("Append with %+v: nil error, want one", l)
		}
		if _, err := s.Since(t.Context(), "r", history.Position{}, 1, l); err == nil {
			t.Errorf("Since with %+v: nil error, want one", l)
		}
	}
}
