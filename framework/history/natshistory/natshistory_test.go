package natshistory_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/natshistory"
	"github.com/nowebsocket/nows/internal/historytest"
	"github.com/nowebsocket/nows/internal/natstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startJS starts a NATS server with JetStream, its store in a directory
// of the test's, that the test can stop and start again on the same port
// and store.
func startJS(t *testing.T, maxPayload int32) *natstest.Server {
	t.Helper()
	return natstest.Start(t, server.Options{JetStream: true, StoreDir: t.TempDir(), MaxPayload: maxPayload})
}

// connect connects to ns, reconnecting every 50 ms while it is down.
func connect(t *testing.T, ns *natstest.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

var window = history.Limits{Size: 100, TTL: time.Minute}

var streams atomic.Int64

// options returns the Options of a stream of its own.
func options() natshistory.Options {
	n := streams.Add(1)
	return natshistory.Options{Stream: fmt.Sprintf("h%d", n), Prefix: fmt.Sprintf("h%d", n), Window: window, MaxMessageBytes: 1 << 20}
}

func open(t *testing.T, nc *nats.Conn, o natshistory.Options) *natshistory.Store {
	t.Helper()
	s, err := natshistory.New(t.Context(), nc, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// TestConformance runs the engines' conformance test, a stream per
// subtest.
func TestConformance(t *testing.T) {
	nc := connect(t, startJS(t, 4<<20))
	historytest.Run(t, func(t *testing.T) history.Store { return open(t, nc, options()) })
}

// watcher collects a Watch's updates.
type watcher struct {
	mu      sync.Mutex
	lost    int
	entries map[string][]history.Entry
	stop    func()
}

func watch(t *testing.T, s *natshistory.Store) *watcher {
	t.Helper()
	w := &watcher{entries: map[string][]history.Entry{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(u history.Update) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if u.Lost {
				w.lost++
				return
			}
			w.entries[u.Room] = append(w.entries[u.Room], u.Entry)
		})
	}()
	w.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}
	t.Cleanup(w.stop)
	w.wait(t, "the first Lost", func() bool { return w.lost >= 1 })
	return w
}

// wait waits up to 10 s for cond, under w.mu.
func (w *watcher) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch: no %s within 10s", what)
		}
	}
}

func (w *watcher) room(room string) []history.Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.entries[room])
}

// TestTwoNodes: two stores on one server append to one room at once;
// every entry chains from the one before it, and both feeds have every
// entry, in offset order.
func TestTwoNodes(t *testing.T) {
	ns := startJS(t, 4<<20)
	o := options()
	a, b := open(t, connect(t, ns), o), open(t, connect(t, ns), o)
	wa, wb := watch(t, a), watch(t, b)
	start, err := a.Since(t.Context(), "r", history.Position{}, 0, window)
	if err != nil {
		t.Fatal(err)
	}
	const each = 100
	var mu sync.Mutex
	var appended []history.Entry
	var wg sync.WaitGroup
	for i, s := range []*natshistory.Store{a, b} {
		wg.Go(func() {
			for j := range each {
				e, err := s.Append(t.Context(), "r", history.Entry{Data: fmt.Appendf(nil, "%d-%d", i, j)}, window)
				if err != nil {
					t.Errorf("node %d Append: %v", i, err)
					return
				}
				mu.Lock()
				appended = append(appended, e)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(appended, func(x, y history.Entry) int { return int(x.Pos.Offset) - int(y.Pos.Offset) })
	if len(appended) != 2*each {
		t.Fatalf("%d appended, want %d", len(appended), 2*each)
	}
	checkChain(t, "appended", start.Top, appended)
	for name, w := range map[string]*watcher{"a": wa, "b": wb} {
		w.wait(t, "200 entries on feed "+name, func() bool { return len(w.entries["r"]) >= 2*each })
		got := w.room("r")
		checkChain(t, "feed "+name, start.Top, got)
		for i := range got {
			if got[i].Pos != appended[i].Pos || !bytes.Equal(got[i].Data, appended[i].Data) {
				t.Fatalf("feed %s entry %d: %v %q, appended %v %q", name, i, got[i].Pos, got[i].Data, appended[i].Pos, appended[i].Data)
			}
		}
		if len(got) != 2*each {
			t.Errorf("feed %s: %d entries, want %d", name, len(got), 2*each)
		}
		if w.lost != 1 {
			t.Errorf("feed %s: %d Lost updates, want the first alone: nothing interrupted it", name, w.lost)
		}
	}
}

func checkChain(t *testing.T, what string, prev history.Position, es []history.Entry) {
	t.Helper()
	for i, e := range es {
		if e.Pos.Epoch != prev.Epoch || e.Prev != prev.Offset || e.Pos.Offset <= prev.Offset {
			t.Fatalf("%s: entry %d at %v, Prev %d, after %v: does not chain", what, i, e.Pos, e.Prev, prev)
		}
		prev = e.Pos
	}
}

// TestStreamRecreated: a stream deleted and made again is a new epoch,
// which sorts after the old one; a position of the old one is not
// recovered.
func TestStreamRecreated(t *testing.T) {
	ns := startJS(t, 4<<20)
	nc := connect(t, ns)
	o := options()
	s := open(t, nc, o)
	w := watch(t, s)
	var old history.Entry
	for range 3 {
		var err error
		if old, err = s.Append(t.Context(), "r", history.Entry{Data: []byte("old")}, window); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(t.Context(), o.Stream); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // a creation time of its own
	e, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("new")}, window)
	if err != nil {
		t.Fatalf("Append after the stream was deleted: %v", err)
	}
	if e.Pos.Epoch <= old.Pos.Epoch || e.Prev != 0 {
		t.Errorf("first entry of the new stream at %v, Prev %d; the old one's last at %v: want a later epoch, Prev 0", e.Pos, e.Prev, old.Pos)
	}
	res, err := s.Since(t.Context(), "r", old.Pos, 10, window)
	if err != nil || res.Reason != history.ReasonEpoch || res.Top != e.Pos {
		t.Errorf("Since(old position) = %+v, %v; want reason epoch, top %v", res, err, e.Pos)
	}
	// The feed starts again on the new stream.
	w.wait(t, "a Lost after the stream went", func() bool { return w.lost >= 2 })
	e2, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("newer")}, window)
	if err != nil {
		t.Fatal(err)
	}
	w.wait(t, "the new stream's entry", func() bool {
		es := w.entries["r"]
		return len(es) > 0 && es[len(es)-1].Pos == e2.Pos
	})
}

// TestServerRestart: the server restarts on its port with its store; the
// feed says Lost after the reconnect, positions taken before it still
// recover, and later entries come on the feed.
func TestServerRestart(t *testing.T) {
	ns := startJS(t, 4<<20)
	s := open(t, connect(t, ns), options())
	w := watch(t, s)
	var es []history.Entry
	for i := range 5 {
		e, err := s.Append(t.Context(), "r", history.Entry{Data: fmt.Appendf(nil, "m%d", i)}, window)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	w.wait(t, "5 entries", func() bool { return len(w.entries["r"]) == 5 })
	ns.Stop()
	ns.Start(t)
	w.wait(t, "a Lost after the reconnect", func() bool { return w.lost >= 2 })
	res, err := s.Since(t.Context(), "r", es[1].Pos, 10, window)
	if err != nil || res.Reason != "" || len(res.Entries) != 3 || res.Top != es[4].Pos {
		t.Fatalf("Since(2nd) after the restart = %+v, %v; want the last 3, top %v", res, err, es[4].Pos)
	}
	checkChain(t, "Since", es[1].Pos, res.Entries)
	e, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("after")}, window)
	if err != nil || e.Prev != es[4].Pos.Offset || e.Pos.Epoch != es[4].Pos.Epoch {
		t.Fatalf("Append after the restart = %+v, %v; want it after %v", e, err, es[4].Pos)
	}
	w.wait(t, "the entry after the restart", func() bool {
		got := w.entries["r"]
		return got[len(got)-1].Pos == e.Pos
	})
}

// TestMaxPayload: New fails when the server's max_payload (1 MiB by
// default) is under the largest message with its headers, says which
// setting to raise, and makes no stream.
func TestMaxPayload(t *testing.T) {
	ns := startJS(t, 0)
	nc := connect(t, ns)
	js, _ := jetstream.New(nc)
	for _, c := range []struct {
		max  int
		want string // in the error; "" for none
	}{
		{0, "under Options.MaxMessageBytes (2097152)"}, // the framework's default
		{1 << 20, "under Options.MaxMessageBytes (1048576)"},
		{1<<20 - 512, ""},
	} {
		o := options()
		o.MaxMessageBytes = c.max
		_, err := natshistory.New(t.Context(), nc, o)
		if c.want == "" {
			if err != nil {
				t.Errorf("New with MaxMessageBytes %d: %v", c.max, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "raise max_payload") {
			t.Errorf("New with MaxMessageBytes %d on max_payload 1 MiB: %v; want an error with %q naming max_payload", c.max, err, c.want)
		}
		if _, err := js.Stream(t.Context(), o.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("after New failed: stream %s: %v; want none made", o.Stream, err)
		}
	}
}

// TestLargeBinary: a 512 KiB binary message comes back as it was, from
// Since and on the feed.
func TestLargeBinary(t *testing.T) {
	ns := startJS(t, 4<<20)
	s := open(t, connect(t, ns), options())
	w := watch(t, s)
	data := make([]byte, 512<<10)
	_, _ = rand.Read(data)
	start, _ := s.Since(t.Context(), "big", history.Position{}, 0, window)
	e, err := s.Append(t.Context(), "big", history.Entry{Binary: true, Data: data}, window)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Since(t.Context(), "big", start.Top, 10, window)
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("Since = %+v, %v; want the entry", res, err)
	}
	if got := res.Entries[0]; !got.Binary || !bytes.Equal(got.Data, data) || got.Pos != e.Pos {
		t.Errorf("read back: binary %v, %d bytes, equal %v; want binary, %d bytes, equal", got.Binary, len(got.Data), bytes.Equal(got.Data, data), len(data))
	}
	w.wait(t, "the entry on the feed", func() bool { return len(w.entries["big"]) == 1 })
	if got := w.room("big")[0]; !got.Binary || !bytes.Equal(got.Data, data) {
		t.Errorf("feed: binary %v, %d bytes, equal %v", got.Binary, len(got.Data), bytes.Equal(got.Data, data))
	}
}

// TestStreamLimits: what the stream dropped itself (MaxMsgsPerSubject,
// MaxAge) is out of the window, and an offset of another room is not
// this room's.
func TestStreamLimits(t *testing.T) {
	ns := startJS(t, 4<<20)
	nc := connect(t, ns)
	o := options()
	o.Window = history.Limits{Size: 3, TTL: time.Minute}
	s := open(t, nc, o)
	lim := o.Window
	start, _ := s.Since(t.Context(), "a", history.Position{}, 0, lim)
	var a, b []history.Entry
	for i := range 5 {
		ea, err := s.Append(t.Context(), "a", history.Entry{Data: fmt.Appendf(nil, "a%d", i)}, lim)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := s.Append(t.Context(), "b", history.Entry{Data: fmt.Appendf(nil, "b%d", i)}, lim)
		if err != nil {
			t.Fatal(err)
		}
		a, b = append(a, ea), append(b, eb)
	}
	for _, c := range []struct {
		since history.Position
		want  history.Reason
		n     int
	}{
		{start.Top, history.ReasonTooOld, 0}, // a0 and a1 dropped by MaxMsgsPerSubject
		{a[0].Pos, history.ReasonTooOld, 0},
		{a[1].Pos, "", 3},
		{b[2].Pos, history.ReasonEpoch, 0}, // between a2 and a3, not a's
		{history.Position{Epoch: a[0].Pos.Epoch, Offset: b[4].Pos.Offset + 10}, history.ReasonEpoch, 0},
	} {
		res, err := s.Since(t.Context(), "a", c.since, 10, lim)
		if err != nil || res.Reason != c.want || len(res.Entries) != c.n || res.Top != a[4].Pos {
			t.Errorf("Since(a, %v) = %d entries, reason %q, top %v, %v; want %d, %q, %v", c.since, len(res.Entries), res.Reason, res.Top, err, c.n, c.want, a[4].Pos)
		}
	}

	// MaxAge: a room whose messages all expired starts a new chain.
	o = options()
	o.Window = history.Limits{Size: 10, TTL: 300 * time.Millisecond}
	s = open(t, nc, o)
	lim = o.Window
	old, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("old")}, lim)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if res, _ := s.Since(t.Context(), "r", old.Pos, 10, lim); res.Reason != history.ReasonTooOld || res.Top.Offset != 0 {
		t.Errorf("Since(expired last) = %+v; want too_old, top offset 0", res)
	}
	e, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("new")}, lim)
	if err != nil || e.Prev != 0 || e.Pos.Epoch != old.Pos.Epoch {
		t.Fatalf("Append after expiry = %+v, %v; want Prev 0, same epoch", e, err)
	}
	if res, _ := s.Since(t.Context(), "r", old.Pos, 10, lim); res.Reason != history.ReasonTooOld {
		t.Errorf("Since(expired last) after a new entry = %+v; want too_old: the chain broke", res)
	}
}
