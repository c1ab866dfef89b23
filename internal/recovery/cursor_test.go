package recovery

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/framework/history"
)

var seedFlag = flag.Uint64("seed", 0, "the random seed of the property test (0: a new one, logged)")

func pos(epoch string, off uint64) history.Position {
	return history.Position{Epoch: epoch, Offset: off}
}

func entry(epoch string, off uint64) history.Entry {
	return history.Entry{Pos: pos(epoch, off), Prev: off - 1}
}

func offsets(es []history.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Pos.Offset)
	}
	return out
}

func TestCursorSeam(t *testing.T) {
	// Joined at 2; live 5 and 6 come while the fetch is out; the fetch
	// answers 3..5 with top 5: the client gets 3, 4, 5, 6 once each.
	c, st := New(pos("e", 2))
	if !st.Fetch || st.From != pos("e", 2) {
		t.Fatalf("New: %+v; want a fetch from 2", st)
	}
	if st := c.Offer(entry("e", 5)); len(st.Send) != 0 {
		t.Fatalf("live entry sent during the fetch: %+v", st)
	}
	c.Offer(entry("e", 6))
	st = c.Fetched(history.Result{Entries: []history.Entry{entry("e", 3), entry("e", 4), entry("e", 5)}, Top: pos("e", 5)})
	if !st.Joined || st.Lost != "" || fmt.Sprint(offsets(st.Send)) != "[3 4 5 6]" || st.Fetch {
		t.Fatalf("Fetched: %+v; want joined, recovered, 3 4 5 6", st)
	}
	if st := c.Offer(entry("e", 6)); len(st.Send) != 0 {
		t.Errorf("a duplicate was sent: %+v", st)
	}
	if st := c.Offer(entry("e", 8)); len(st.Send) != 0 || !c.Gap() {
		t.Errorf("8 after 6: %+v, gap %v; want held, a gap", st, c.Gap())
	}
	if st := c.Offer(entry("e", 7)); fmt.Sprint(offsets(st.Send)) != "[7 8]" || c.Gap() {
		t.Errorf("7 fills the gap: %+v; want 7 8", st)
	}
}

func TestCursorNotRecovered(t *testing.T) {
	c, _ := New(pos("e", 2))
	c.Offer(entry("f", 9))
	c.Offer(entry("f", 10))
	st := c.Fetched(history.Result{Top: pos("f", 9), Reason: history.ReasonEpoch})
	if !st.Joined || st.Lost != history.ReasonEpoch || fmt.Sprint(offsets(st.Send)) != "[10]" || c.Pos() != pos("f", 10) {
		t.Fatalf("Fetched: %+v at %v; want not recovered (epoch), then 10, live from there", st, c.Pos())
	}
	// The store fails at the join: live from the first entry, said so.
	c, _ = New(pos("e", 2))
	st = c.Failed()
	if !st.Joined || st.Lost != history.ReasonUnavailable {
		t.Fatalf("Failed: %+v; want joined, unavailable", st)
	}
	if st := c.Offer(entry("e", 40)); fmt.Sprint(offsets(st.Send)) != "[40]" || st.Lost != "" {
		t.Fatalf("first live entry after a failed join: %+v; want 40", st)
	}
	// The epoch changes under a live reader.
	if st := c.Offer(history.Entry{Pos: pos("g", 1)}); st.Lost != history.ReasonEpoch || fmt.Sprint(offsets(st.Send)) != "[1]" {
		t.Fatalf("entry of a new epoch: %+v; want lost (epoch), then 1", st)
	}
}

func TestCursorPages(t *testing.T) {
	c, _ := New(pos("e", 0))
	st := c.Fetched(history.Result{Entries: []history.Entry{entry("e", 1), entry("e", 2)}, Top: pos("e", 4)})
	if !st.Joined || !st.Fetch || st.From != pos("e", 2) || fmt.Sprint(offsets(st.Send)) != "[1 2]" {
		t.Fatalf("first page: %+v; want 1 2, then a fetch from 2", st)
	}
	c.Offer(entry("e", 5))
	st = c.Fetched(history.Result{Entries: []history.Entry{entry("e", 3), entry("e", 4)}, Top: pos("e", 4)})
	if st.Joined || st.Fetch || fmt.Sprint(offsets(st.Send)) != "[3 4 5]" {
		t.Fatalf("last page: %+v; want 3 4 5", st)
	}
}

// fakeStore is a room's history in the property test: every entry of
// every epoch, the window being the last size entries of the epoch.
type fakeStore struct {
	epochs []string
	all    [][]history.Entry // per epoch, offsets 1..
	size   int
}

func (s *fakeStore) epoch() string { return s.epochs[len(s.epochs)-1] }

func (s *fakeStore) append() history.Entry {
	i := len(s.epochs) - 1
	e := entry(s.epoch(), uint64(len(s.all[i])+1))
	s.all[i] = append(s.all[i], e)
	return e
}

func (s *fakeStore) reset() {
	s.epochs = append(s.epochs, fmt.Sprintf("e%04d", len(s.epochs)))
	s.all = append(s.all, nil)
}

func (s *fakeStore) since(p history.Position, limit int) history.Result {
	es := s.all[len(s.all)-1]
	top := uint64(len(es))
	r := history.Result{Top: pos(s.epoch(), top)}
	switch {
	case p.Epoch == "":
	case p.Epoch != s.epoch() || p.Offset > top:
		r.Reason = history.ReasonEpoch
	case int(top-p.Offset) > s.size:
		r.Reason = history.ReasonTooOld
	default:
		r.Entries = es[p.Offset:min(top, p.Offset+uint64(limit))]
	}
	return r
}

// fetch is a fetch in flight: its answer, read when it was asked,
// arrives later (a store read is not instant, and may be stale by then).
type fetch struct {
	res    history.Result
	due    int
	failed bool
}

// TestCursorProperty drives cursors through random runs: appends, a live
// stream that duplicates, reorders and, when interrupted, loses entries
// (then says so, as Store.Watch does), fetches answered late or failing,
// small windows and epoch changes. Whatever happens, no entry is handed on
// twice, the entries handed on chain (each one's Prev is the previous
// one's offset) except right after a Lost step, and once the stream
// settles the reader is at the store's top. Without epoch changes,
// failures and a too small window, nothing is Lost at all and the reader
// gets every entry after its position, in order.
func TestCursorProperty(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay: go test ./internal/recovery -run '^TestCursorProperty$' -seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for run := range 500 {
		clean := run%2 == 0 // no epoch change, no failure, a window large enough
		if err := cursorRun(rng, clean); err != nil {
			t.Fatalf("run %d (clean %v): %v", run, clean, err)
		}
	}
}

func cursorRun(rng *rand.Rand, clean bool) error {
	s := &fakeStore{size: 1 + rng.IntN(20)}
	if clean {
		s.size = 1 << 30
	}
	s.reset()
	for range rng.IntN(10) {
		s.append()
	}
	var since history.Position
	if rng.IntN(4) > 0 {
		since = pos(s.epoch(), uint64(rng.IntN(len(s.all[0])+1)))
	}
	start := since
	if start.Epoch == "" { // from the top when first read: at once, here
		start = s.since(since, 0).Top
	}
	var feed []history.Entry // the live stream, not yet offered
	var flying []fetch
	var sent []history.Entry
	seen := map[history.Position]bool{}
	lostAt := -1  // index in sent of the first entry after the last Lost
	gapSince := 0 // steps the gap has lasted
	var trace []string
	tr := func(f string, a ...any) { trace = append(trace, fmt.Sprintf(f, a...)) }
	c, st := New(since)
	apply := func(step int, st Step) error {
		tr("step %d: %+v -> pos %v pend %d fetching %v owed %v", step, offsets(st.Send), c.Pos(), c.Pending(), c.fetching, c.owed)
		if st.Fetch || st.Lost != "" || st.Joined {
			tr("   fetch %v from %v lost %q joined %v", st.Fetch, st.From, st.Lost, st.Joined)
		}
		if st.Lost != "" {
			if clean {
				return fmt.Errorf("step %d: lost (%s) in a clean run", step, st.Lost)
			}
			lostAt = len(sent)
		}
		for i, e := range st.Send {
			if seen[e.Pos] {
				return fmt.Errorf("step %d: %v handed on twice\n%s", step, e.Pos, strings.Join(trace[max(0, len(trace)-40):], "\n"))
			}
			seen[e.Pos] = true
			if n := len(sent); n > 0 && !(i == 0 && lostAt == n) {
				if prev := sent[n-1]; e.Pos.Epoch != prev.Pos.Epoch || e.Prev != prev.Pos.Offset {
					return fmt.Errorf("step %d: %v handed on after %v: a gap with no Lost\n%s", step, e.Pos, prev.Pos, strings.Join(trace[max(0, len(trace)-40):], "\n"))
				}
			}
			sent = append(sent, e)
		}
		if st.Fetch {
			f := fetch{res: s.since(st.From, 1+rng.IntN(5)), due: step + rng.IntN(6)}
			f.failed = !clean && rng.IntN(10) == 0
			flying = append(flying, f)
		}
		return nil
	}
	if err := apply(0, st); err != nil {
		return err
	}
	steps := 50 + rng.IntN(300)
	for step := 1; ; step++ {
		settling := step > steps
		switch k := rng.IntN(100); {
		case !settling && k < 30:
			feed = append(feed, s.append())
			tr("append %v", feed[len(feed)-1].Pos)
		case !settling && k < 32 && !clean:
			s.reset()
			tr("reset")
		case !settling && k < 35 && len(feed) > 1:
			// Interrupted: some of the stream is lost, the watcher is told.
			i := rng.IntN(len(feed))
			j := i + 1 + rng.IntN(len(feed)-i)
			tr("lose %v", offsets(feed[i:j]))
			feed = append(feed[:i], feed[j:]...)
			if err := apply(step, c.Refetch()); err != nil {
				return err
			}
		case !settling && !clean && k < 37 && c.Pending() > 0:
			// The caller's bound on what waits: give up on the gap.
			tr("skip")
			if err := apply(step, c.Skip()); err != nil {
				return err
			}
		case k < 45 && len(sent) > 0:
			// A duplicate: an Append's own result, or a stream replayed.
			if err := apply(step, c.Offer(sent[rng.IntN(len(sent))])); err != nil {
				return err
			}
		case k < 50 && len(feed) > 1:
			i := rng.IntN(len(feed) - 1) // two swapped: the Append's result overtaking the feed
			feed[i], feed[i+1] = feed[i+1], feed[i]
		case k < 80 && len(feed) > 0:
			e := feed[0]
			feed = feed[1:]
			tr("offer %v", e.Pos)
			if err := apply(step, c.Offer(e)); err != nil {
				return err
			}
		case len(flying) > 0 && flying[0].due <= step:
			f := flying[0]
			flying = flying[1:]
			tr("answer failed=%v %+v top %v reason %q", f.failed, offsets(f.res.Entries), f.res.Top, f.res.Reason)
			var st Step
			if f.failed {
				st = c.Failed()
			} else {
				st = c.Fetched(f.res)
			}
			if err := apply(step, st); err != nil {
				return err
			}
		}
		if c.Gap() {
			if gapSince++; gapSince > 5 {
				gapSince = 0
				if err := apply(step, c.Refetch()); err != nil {
					return err
				}
			}
		} else {
			gapSince = 0
		}
		if settling && len(feed) == 0 && len(flying) == 0 && !c.Gap() {
			if c.adopt { // nothing came after a failed join
				return nil
			}
			// At the top, unless the store lost its history and
			// nothing came since: that is seen at the next entry, or
			// at the next join (not recovered).
			if top := s.since(history.Position{}, 0).Top; c.Pos() != top && !(top.Offset == 0 && top.Epoch != c.Pos().Epoch) {
				if len(trace) > 60 {
					trace = trace[len(trace)-60:]
				}
				return fmt.Errorf("settled at %v, the store's top is %v\n%s", c.Pos(), top, strings.Join(trace, "\n"))
			}
			break
		}
		if step > steps+10000 {
			return fmt.Errorf("did not settle: pending %d, fetching %v, feed %d, fetches %d", c.Pending(), c.fetching, len(feed), len(flying))
		}
	}
	if clean {
		// Every entry after the start, once, in order.
		want := s.all[0][start.Offset:]
		if len(sent) != len(want) {
			return fmt.Errorf("handed on %d entries, want %d (from %v to %d)", len(sent), len(want), start, len(s.all[0]))
		}
	}
	return nil
}

// TestCursorClockBack: a store whose clock went back across a reset makes
// a new epoch that sorts before the old one. Its entries are taken for
// stragglers, but the cursor asks the store, whose answer moves it on.
func TestCursorClockBack(t *testing.T) {
	c, _ := New(pos("e2", 5))
	c.Fetched(history.Result{Top: pos("e2", 5)})
	if st := c.Offer(history.Entry{Pos: pos("e1", 1)}); len(st.Send) != 0 || !c.Gap() {
		t.Fatalf("entry of an epoch that sorts first: %+v, gap %v; want dropped, a fetch owed", st, c.Gap())
	}
	st := c.Refetch()
	if !st.Fetch || st.From != pos("e2", 5) {
		t.Fatalf("Refetch: %+v; want a fetch from e2/5", st)
	}
	st = c.Fetched(history.Result{Top: pos("e1", 1), Reason: history.ReasonEpoch})
	if st.Lost != history.ReasonEpoch || c.Pos() != pos("e1", 1) {
		t.Fatalf("the store's answer: %+v at %v; want lost (epoch), at e1/1", st, c.Pos())
	}
	if st := c.Offer(entry("e1", 2)); fmt.Sprint(offsets(st.Send)) != "[2]" || st.Lost != "" {
		t.Fatalf("next entry of the store's epoch: %+v; want 2", st)
	}
}

// TestCursorSkip: a cursor that gives up on a gap goes on from the first
// entry waiting, says so once (unavailable), and drops what a late fetch
// brings from before.
func TestCursorSkip(t *testing.T) {
	c, _ := New(history.Position{})
	c.Offer(entry("e", 4))
	if st := c.Skip(); st.Lost != "" || len(st.Send) != 0 || c.Pending() != 1 {
		t.Fatalf("Skip before the first answer: %+v, pending %d; want nothing done", st, c.Pending())
	}
	c.Fetched(history.Result{Top: pos("e", 2)})
	c.Refetch()
	c.Fetched(history.Result{Entries: []history.Entry{entry("e", 3), entry("e", 4)}, Top: pos("e", 4)})
	if c.Pos() != pos("e", 4) || c.Pending() != 0 {
		t.Fatalf("at %v, pending %d; want at 4, nothing waiting", c.Pos(), c.Pending())
	}
	if st := c.Skip(); st.Lost != "" || len(st.Send) != 0 {
		t.Fatalf("Skip with nothing pending: %+v; want nothing", st)
	}
	for _, off := range []uint64{7, 8, 10} { // 5, 6 and 9 lost on the way
		c.Offer(entry("e", off))
	}
	if !c.Gap() || c.Pending() != 3 {
		t.Fatalf("gap %v, pending %d; want a gap, 3 waiting", c.Gap(), c.Pending())
	}
	st := c.Skip()
	if st.Lost != history.ReasonUnavailable || fmt.Sprint(offsets(st.Send)) != "[7 8]" || c.Pos() != pos("e", 8) {
		t.Fatalf("Skip: %+v at %v; want unavailable, 7 8, at 8", st, c.Pos())
	}
	if c.Pending() != 1 || !c.Gap() {
		t.Fatalf("after Skip: pending %d, gap %v; want 10 waiting for 9", c.Pending(), c.Gap())
	}
	c.Refetch()
	st = c.Fetched(history.Result{Entries: []history.Entry{entry("e", 5), entry("e", 6), entry("e", 7), entry("e", 8), entry("e", 9), entry("e", 10)}, Top: pos("e", 10)})
	if st.Lost != "" || fmt.Sprint(offsets(st.Send)) != "[9 10]" || c.Gap() {
		t.Fatalf("late fetch: %+v; want 9 10 alone, no gap", st)
	}
	// A fetch out during Skip that finds the window moved, below where
	// Skip went: nothing to tell.
	c.Refetch()
	c.Offer(entry("e", 13))
	c.Skip()
	if st := c.Fetched(history.Result{Top: pos("e", 12), Reason: history.ReasonTooOld}); st.Lost != "" || c.Pos() != pos("e", 13) {
		t.Fatalf("a too_old answer behind Skip: %+v at %v; want nothing, at 13", st, c.Pos())
	}
	// While a fetch is out, entries of two epochs wait: the newest goes
	// on, the older one's are dropped, and so is the fetch's answer.
	c.Refetch()
	c.Offer(entry("e", 10))
	c.Offer(history.Entry{Pos: pos("f", 4), Prev: 3})
	if st := c.Skip(); st.Lost != history.ReasonUnavailable || fmt.Sprint(offsets(st.Send)) != "[4]" || c.Pos() != pos("f", 4) || c.Pending() != 0 {
		t.Fatalf("Skip across epochs: %+v at %v, pending %d; want 4 of f", st, c.Pos(), c.Pending())
	}
	if st := c.Fetched(history.Result{Entries: []history.Entry{entry("e", 9)}, Top: pos("e", 9)}); st.Lost != "" || len(st.Send) != 0 || c.Pos() != pos("f", 4) {
		t.Fatalf("the fetch out during Skip: %+v at %v; want nothing", st, c.Pos())
	}
}

// TestCursorHeldFillsWindow: a store answer that says too_old is no loss
// when the live entries held during the read chain from the position up
// to the store's top (a node that started following a room with a small
// window just before a burst); with a hole among them, it is.
func TestCursorHeldFillsWindow(t *testing.T) {
	c, _ := New(pos("e", 0))
	for off := uint64(1); off <= 5; off++ {
		c.Offer(entry("e", off))
	}
	st := c.Fetched(history.Result{Top: pos("e", 5), Reason: history.ReasonTooOld})
	if st.Lost != "" || fmt.Sprint(offsets(st.Send)) != "[1 2 3 4 5]" || c.Pos() != pos("e", 5) {
		t.Fatalf("Fetched: %+v at %v; want 1..5, no loss", st, c.Pos())
	}
	c, _ = New(pos("e", 0))
	for _, off := range []uint64{1, 2, 4, 5} {
		c.Offer(entry("e", off))
	}
	st = c.Fetched(history.Result{Top: pos("e", 5), Reason: history.ReasonTooOld})
	if st.Lost != history.ReasonTooOld || len(st.Send) != 0 || c.Pos() != pos("e", 5) {
		t.Fatalf("Fetched with 3 missing: %+v at %v; want too_old at 5", st, c.Pos())
	}
}
