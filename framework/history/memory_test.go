package history

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "the random seed of the property tests (0: a new one, logged)")

// newRand returns the test's random source, its seed logged so that a
// failure can be replayed with -seed.
func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test ./framework/history -run '^%s$' -seed %d)", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// clock is a fake clock for the memory store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMemory() (*Memory, *clock) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := NewMemory()
	s.now = clk.now
	return s, clk
}

var lim = Limits{Size: 5, TTL: 10 * time.Second, Meta: time.Minute}

func TestMemoryBasics(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestMemory()
	top, err := s.Since(ctx, "r", Position{}, 10, lim)
	if err != nil || top.Top.Epoch == "" || top.Top.Offset != 0 || top.Reason != "" || len(top.Entries) != 0 {
		t.Fatalf("Since on a new room = %+v, %v; want its epoch at offset 0", top, err)
	}
	data := []byte("one")
	e, err := s.Append(ctx, "r", Entry{Data: data, Except: "c1"}, lim)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the store keeps its own copy
	if e.Pos != (Position{top.Top.Epoch, 1}) || e.Prev != 0 || e.Except != "c1" {
		t.Fatalf("first entry %+v: want offset 1, prev 0, in the room's epoch", e)
	}
	for i := 2; i <= 7; i++ {
		clk.add(time.Second)
		if _, err := s.Append(ctx, "r", Entry{Data: fmt.Appendf(nil, "m%d", i)}, lim); err != nil {
			t.Fatal(err)
		}
	}
	// 7 appended, the last 5 (3..7) kept.
	res, _ := s.Since(ctx, "r", Position{top.Top.Epoch, 1}, 10, lim)
	if res.Reason != ReasonTooOld {
		t.Errorf("Since(1) after 7 with Size 5: %+v; want too_old", res)
	}
	res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 2}, 2, lim)
	if res.Reason != "" || len(res.Entries) != 2 || res.Entries[0].Pos.Offset != 3 || res.Entries[0].Prev != 2 ||
		string(res.Entries[1].Data) != "m4" || res.Top.Offset != 7 {
		t.Errorf("Since(2) limit 2: %+v; want 3 and 4, top 7", res)
	}
	res, _ = s.Since(ctx, "r", Position{"other", 2}, 10, lim)
	if res.Reason != ReasonEpoch {
		t.Errorf("Since of another epoch: %+v; want epoch", res)
	}
	res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 8}, 10, lim)
	if res.Reason != ReasonEpoch {
		t.Errorf("Since past the top: %+v; want epoch", res)
	}
	// 3 was appended at +2 s, so at +12 s it is out of the TTL.
	clk.add(6 * time.Second)
	if res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 2}, 10, lim); res.Reason != ReasonTooOld {
		t.Errorf("Since(2) once 3 has expired: %+v; want too_old", res)
	}
	if res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 3}, 10, lim); res.Reason != "" || len(res.Entries) != 4 {
		t.Errorf("Since(3) once 3 has expired: %+v; want 4..7", res)
	}
	// Everything expired: the top is still known, nothing is missed at it.
	clk.add(time.Hour / 120)
	if res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 7}, 10, lim); res.Reason != "" || len(res.Entries) != 0 {
		t.Errorf("Since(top) once all expired: %+v; want recovered, nothing missed", res)
	}
	// Silent for Meta: the room is forgotten, its positions are not recovered.
	clk.add(lim.Meta)
	if res, _ = s.Since(ctx, "r", Position{top.Top.Epoch, 7}, 10, lim); res.Reason != ReasonEpoch || res.Top.Epoch <= top.Top.Epoch {
		t.Errorf("Since(top) after Meta: %+v; want a newer epoch (was %s) and the reason epoch", res, top.Top.Epoch)
	}
	if _, err := s.Append(ctx, "r", Entry{}, Limits{}); err == nil {
		t.Error("Append with zero Limits: no error")
	}
}

// modelRoom is the property test's model of one room: every entry ever
// appended in its epoch.
type modelRoom struct {
	epoch string
	last  time.Time
	all   []Entry // offsets 1..len
}

// TestMemoryProperty runs random appends, reads and clock moves on a few
// rooms, and checks every Since against a model that keeps everything:
// the entries after a position are returned exactly, in order, chained by
// Prev, or the position is reported not recoverable exactly when one of
// them is out of the window (count, TTL) or of another epoch. It checks
// that a watcher gets every entry once, in order.
func TestMemoryProperty(t *testing.T) {
	rng := newRand(t)
	ctx := t.Context()
	s, clk := newTestMemory()
	var mu sync.Mutex
	watched := map[string][]Entry{}
	started := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		first := true
		_ = s.Watch(wctx, func(u Update) {
			if first != u.Lost {
				t.Errorf("update %+v: want Lost first and only first", u)
			}
			if first {
				first = false
				close(started)
				return
			}
			mu.Lock()
			watched[u.Room] = append(watched[u.Room], u.Entry)
			mu.Unlock()
		})
	})
	<-started

	rooms := []string{"a", "b", "c"}
	model := map[string]*modelRoom{}
	appended := map[string][]Entry{} // every entry, across epochs, for the watcher
	touch := func(room string, now time.Time, epoch string) *modelRoom {
		m := model[room]
		if m == nil || now.Sub(m.last) >= lim.meta() {
			m = &modelRoom{epoch: epoch, last: now}
			model[room] = m
		}
		if m.epoch != epoch {
			t.Fatalf("room %s: epoch %q, want %q (it changed without the room being forgotten)", room, epoch, m.epoch)
		}
		return m
	}
	for step := range 20000 {
		room := rooms[rng.IntN(len(rooms))]
		switch op := rng.IntN(100); {
		case op < 10:
			d := time.Duration(rng.Int64N(int64(4 * time.Second)))
			if rng.IntN(500) == 0 {
				d = lim.Meta + time.Second
			}
			clk.add(d)
		case op < 50:
			msg := Entry{Binary: rng.IntN(2) == 0, Data: fmt.Appendf(nil, "%s-%d", room, step), Except: "c"}
			e, err := s.Append(ctx, room, msg, lim)
			if err != nil {
				t.Fatal(err)
			}
			m := touch(room, clk.now(), e.Pos.Epoch)
			want := msg
			want.Pos, want.Prev, want.Time = Position{m.epoch, uint64(len(m.all) + 1)}, uint64(len(m.all)), clk.now()
			if !equalEntry(e, want) {
				t.Fatalf("step %d: Append = %+v, want %+v", step, e, want)
			}
			m.all = append(m.all, e)
			m.last = clk.now()
			appended[room] = append(appended[room], e)
		default:
			now := clk.now()
			var since Position
			var epoch string
			if m := model[room]; m != nil {
				epoch = m.epoch
			}
			switch k := rng.IntN(20); {
			case k == 0:
			case k == 1:
				since = Position{"bogus", 1}
			default:
				n := 0
				if m := model[room]; m != nil {
					n = len(m.all)
				}
				since = Position{epoch, uint64(rng.IntN(n + 2))}
			}
			limit := rng.IntN(8)
			res, err := s.Since(ctx, room, since, limit, lim)
			if err != nil {
				t.Fatal(err)
			}
			m := touch(room, now, res.Top.Epoch)
			if want := (Position{m.epoch, uint64(len(m.all))}); res.Top != want {
				t.Fatalf("step %d: Since(%v) Top = %v, want %v", step, since, res.Top, want)
			}
			checkSince(t, step, m, since, limit, now, res)
		}
	}
	// The watcher catches up, then stops.
	total := 0
	for _, es := range appended {
		total += len(es)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		got := 0
		for _, es := range watched {
			got += len(es)
		}
		mu.Unlock()
		if got >= total {
			break
		}
	}
	stop()
	wg.Wait()
	for _, room := range rooms {
		if !slices.EqualFunc(watched[room], appended[room], equalEntry) {
			t.Errorf("room %s: the watcher got %d entries, %d were appended, or another order", room, len(watched[room]), len(appended[room]))
		}
	}
}

// checkSince checks res, the answer to Since(since, limit), against the
// model m.
func checkSince(t *testing.T, step int, m *modelRoom, since Position, limit int, now time.Time, res Result) {
	t.Helper()
	top := uint64(len(m.all))
	var wantReason Reason
	switch {
	case since.Epoch == "":
	case since.Epoch != m.epoch || since.Offset > top:
		wantReason = ReasonEpoch
	case since.Offset < top:
		// The next entry must be in the window: one of the last Size,
		// younger than TTL.
		next := m.all[since.Offset]
		if int(top-since.Offset) > lim.Size || now.Sub(next.Time) >= lim.TTL {
			wantReason = ReasonTooOld
		}
	}
	if res.Reason != wantReason {
		t.Fatalf("step %d: Since(%v) reason %q, want %q (top %d)", step, since, res.Reason, wantReason, top)
	}
	var want []Entry
	if wantReason == "" && since.Epoch != "" {
		want = m.all[since.Offset:min(int(since.Offset)+limit, int(top))]
	}
	if !slices.EqualFunc(res.Entries, want, equalEntry) {
		t.Fatalf("step %d: Since(%v, %d) = %d entries, want %d", step, since, limit, len(res.Entries), len(want))
	}
	prev := since.Offset
	for _, e := range res.Entries {
		if e.Prev != prev {
			t.Fatalf("step %d: entry %d has Prev %d, want %d", step, e.Pos.Offset, e.Prev, prev)
		}
		prev = e.Pos.Offset
	}
}

func equalEntry(a, b Entry) bool {
	return a.Pos == b.Pos && a.Prev == b.Prev && a.Time.Equal(b.Time) && a.Binary == b.Binary &&
		string(a.Data) == string(b.Data) && a.Except == b.Except
}

func TestConfigLimits(t *testing.T) {
	small, big, exact := Limits{Size: 1, TTL: time.Second}, Limits{Size: 2, TTL: time.Second}, Limits{Size: 3, TTL: time.Second}
	c := Config{Store: NewMemory(), Rooms: map[string]Limits{"chat.*": small, "chat.vip.*": big, "lobby": exact, "*x": exact}}
	for room, want := range map[string]Limits{"chat.a": small, "chat.vip.b": big, "lobby": exact} {
		if got, ok := c.Limits(room); !ok || got != want {
			t.Errorf("Limits(%q) = %v, %v; want %v", room, got, ok, want)
		}
	}
	for _, room := range []string{"lobby2", "chat", "other"} {
		if _, ok := c.Limits(room); ok {
			t.Errorf("Limits(%q): has history; want none", room)
		}
	}
	if _, ok := (Config{Rooms: c.Rooms}).Limits("lobby"); ok {
		t.Error("a Config without a Store has history")
	}
}
