package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/wire"
)

// The room "news" has history when a test gives its world a store: a
// server restarted on the same store recovers what its clients missed.

// withHistory gives the room "news" a history in store, a window of size
// messages, for the servers started after it.
func (w *world) withHistory(store history.Store, size int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.history = history.Config{Store: store, Rooms: map[string]history.Limits{"news": {Size: size, TTL: time.Hour}}}
}

func (w *world) historyConfig() history.Config {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.history
}

// publisher returns a hub without connections that writes to the
// world's store (a Publisher): it sends to "news" while no server is up.
func publisher(t *testing.T, w *world) *framework.Hub {
	pub := framework.NewHub(framework.HubOptions{History: w.historyConfig()})
	t.Cleanup(func() { pub.Close() })
	return pub
}

// recoveries returns what c's OnRecovery is told, as they come.
func recoveries(c *client.Client) func() []client.Recovery {
	var mu sync.Mutex
	var got []client.Recovery
	c.OnRecovery(func(r client.Recovery) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
	})
	return func() []client.Recovery {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// numbers collects the event "n" of c, in the order handled.
func numbers(c *client.Client) func() []int {
	var mu sync.Mutex
	var got []int
	c.On("n", func(data json.RawMessage) {
		var n int
		if json.Unmarshal(data, &n) == nil {
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}
	})
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// historyClient connects a client to s, with its recoveries, numbers and
// states watched, and joins "news".
func historyClient(t *testing.T, s *server) (c *client.Client, recov func() []client.Recovery, nums func() []int, st <-chan client.State) {
	t.Helper()
	c = client.New(s.url("/ev"), fast())
	t.Cleanup(func() { c.Close() })
	recov, nums, st = recoveries(c), numbers(c), states(c)
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(testCtx(t), "news"); err != nil {
		t.Fatal(err)
	}
	return c, recov, nums, st
}

// wantRecoveries checks what OnRecovery was told, once it was told len(want).
func wantRecoveries(t *testing.T, recov func() []client.Recovery, want ...client.Recovery) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d recoveries", len(want)), func() bool { return len(recov()) >= len(want) })
	if got := recov(); !slices.Equal(got, want) {
		t.Errorf("recoveries %+v, want %+v", got, want)
	}
}

func send(t *testing.T, pub *framework.Hub, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := events.Broadcast(testCtx(t), pub, "news", "n", i); err != nil {
			t.Fatal(err)
		}
	}
}

var first = client.Recovery{Room: "news"} // the first join: nothing to recover from

// TestRecoverAcrossRestart: the server goes away and comes back on the
// same store while a publisher goes on sending; the client gets every
// message exactly once, in order, and is told it recovered.
func TestRecoverAcrossRestart(t *testing.T) {
	const n = 300
	w := newWorld()
	w.withHistory(history.NewMemory(), 10*n)
	s := startServer(t, w, "127.0.0.1:0")
	_, recov, nums, st := historyClient(t, s)
	pub := publisher(t, w)
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := events.Broadcast(context.Background(), pub, "news", "n", i); err != nil {
				done <- err
				return
			}
			time.Sleep(500 * time.Microsecond)
		}
		done <- nil
	}()
	eventually(t, "the first messages", func() bool { return len(nums()) >= n/4 })
	s.stop()
	waitState(t, st, client.Disconnected)
	time.Sleep(20 * time.Millisecond) // messages pile up meanwhile
	s = startServer(t, w, s.addr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "every message", func() bool { return len(nums()) >= n })
	time.Sleep(50 * time.Millisecond) // a duplicate would come now
	got := nums()
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("message %d is %d (%d messages: %v)", i+1, v, len(got), got)
		}
	}
	if len(got) != n {
		t.Errorf("%d messages, want %d", len(got), n)
	}
	wantRecoveries(t, recov, first, client.Recovery{Room: "news", Recovered: true})
}

// TestNotRecovered: the client is told why it could not recover: more
// messages than the window came while it was away (too_old), or the
// server's store is a new one (epoch). It goes on live after.
func TestNotRecovered(t *testing.T) {
	for _, reason := range []history.Reason{history.ReasonTooOld, history.ReasonEpoch} {
		t.Run(string(reason), func(t *testing.T) {
			w := newWorld()
			w.withHistory(history.NewMemory(), 5)
			s := startServer(t, w, "127.0.0.1:0")
			_, recov, nums, st := historyClient(t, s)
			pub := publisher(t, w)
			send(t, pub, 1, 1)
			eventually(t, "the first message", func() bool { return len(nums()) == 1 })
			s.stop()
			waitState(t, st, client.Disconnected)
			if reason == history.ReasonTooOld {
				send(t, pub, 2, 11) // 10 missed, the window keeps 7..11
			} else {
				w.withHistory(history.NewMemory(), 5)
				pub = publisher(t, w)
			}
			s = startServer(t, w, s.addr)
			wantRecoveries(t, recov, first, client.Recovery{Room: "news", Reason: reason})
			send(t, pub, 12, 12)
			eventually(t, "a live message", func() bool { return len(nums()) == 2 })
			if got := nums(); !slices.Equal(got, []int{1, 12}) {
				t.Errorf("got %v, want [1 12]", got)
			}
		})
	}
}

// TestHistoryText: text and binary messages to a room with history
// (nows.text, nows.binary) come to On("message") and On("binary"), live
// and recovered.
func TestHistoryText(t *testing.T) {
	w := newWorld()
	w.withHistory(history.NewMemory(), 100)
	s := startServer(t, w, "127.0.0.1:0")
	c, recov, _, st := historyClient(t, s)
	onText, texts := recv()
	onBin, bins := recv()
	c.On("message", onText)
	c.On("binary", onBin)
	if err := s.hub.Broadcast(testCtx(t), "news", framework.Text("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.hub.Broadcast(testCtx(t), "news", framework.Binary([]byte{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if got := next(t, texts); got != `"hello"` {
		t.Errorf("message: %s", got)
	}
	var b []byte
	if err := json.Unmarshal([]byte(next(t, bins)), &b); err != nil || string(b) != "\x01\x02\x03" {
		t.Errorf("binary: %v, %v", b, err)
	}

	s.stop()
	waitState(t, st, client.Disconnected)
	if err := publisher(t, w).Broadcast(testCtx(t), "news", framework.Text("while away")); err != nil {
		t.Fatal(err)
	}
	startServer(t, w, s.addr)
	if got := next(t, texts); got != `"while away"` {
		t.Errorf("recovered message: %s", got)
	}
	wantRecoveries(t, recov, first, client.Recovery{Room: "news", Recovered: true})
	select {
	case got := <-texts:
		t.Errorf("more text: %s", got)
	case got := <-bins:
		t.Errorf("more binary: %s", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestOwnMessageNotRecovered: a client whose message went to the room's
// others (BroadcastOthers) gets its position (nows.pos), so recovery
// after a restart does not send it the message back.
func TestOwnMessageNotRecovered(t *testing.T) {
	w := newWorld()
	w.withHistory(history.NewMemory(), 100)
	s := startServer(t, w, "127.0.0.1:0")
	a, recovA, _, st := historyClient(t, s)
	b, _, _, _ := historyClient(t, s)
	onA, saidA := recv()
	a.On("said", onA)
	onB, saidB := recv()
	b.On("said", onB)
	ctx := testCtx(t)
	if err := a.Emit(ctx, "others", map[string]string{"room": "news", "text": "mine"}); err != nil {
		t.Fatal(err)
	}
	if got := next(t, saidB); got != `"mine"` {
		t.Fatalf("the other member got %s", got)
	}
	// Handled after "others" on the server: its reply comes after the
	// position.
	if err := a.Request(ctx, "echo", 1, nil); err != nil {
		t.Fatal(err)
	}

	s.stop()
	waitState(t, st, client.Disconnected)
	s = startServer(t, w, s.addr)
	wantRecoveries(t, recovA, first, client.Recovery{Room: "news", Recovered: true})
	if err := events.Broadcast(ctx, s.hub, "news", "said", "after"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, saidA); got != `"after"` {
		t.Errorf("the sender got %s, want only what came after its own", got)
	}
	if got := next(t, saidB); got != `"after"` {
		t.Errorf("the other member got %s", got)
	}
}

// scripted serves nows.v1 on 127.0.0.1 from a script, one turn per
// connection: it reads the join, records its data, and sends the turn's
// frames ({id} is the join's id); it closes with 1001 after every turn
// but the last.
func scripted(t *testing.T, turns ...[]string) (url string, joins <-chan string) {
	ch := make(chan string, len(turns))
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		turn := int(n.Add(1)) - 1
		_, b, err := conn.Read(r.Context())
		env, derr := wire.Decode(b)
		if err != nil || derr != nil || turn >= len(turns) {
			return
		}
		ch <- string(env.Data)
		for _, f := range turns[turn] {
			f = strings.ReplaceAll(f, "{id}", strconv.FormatInt(env.ID, 10))
			if conn.Write(r.Context(), websocket.MessageText, []byte(f)) != nil {
				return
			}
		}
		if turn < len(turns)-1 {
			conn.Close(websocket.StatusGoingAway, "")
			return
		}
		conn.Read(r.Context()) // the last turn stays up until the client goes
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), ch
}

// TestRejoinSince pins the position each rejoin sends: the last message's
// after a recovered join (the missed messages follow its reply, which
// gives the room's top: a drop before they come must not skip them), the
// reply's after a join not recovered, nows.unrecovered's; and what
// OnRecovery is told.
func TestRejoinSince(t *testing.T) {
	pos := func(n int) string { return `{"epoch":"e","offset":` + strconv.Itoa(n) + `}` }
	msg := func(n int) string {
		return `{"event":"n","data":` + strconv.Itoa(n) + `,"room":"news","pos":` + pos(n) + `}`
	}
	reply := func(top int, rest string) string {
		return `{"reply":{id},"data":{"room":"news","pos":` + pos(top) + rest + `}}`
	}
	url, joins := scripted(t,
		[]string{reply(0, ""), msg(1)},
		[]string{reply(3, `,"recovered":true`)}, // dropped before 2 and 3
		[]string{reply(3, `,"recovered":true`), msg(2), msg(3)},
		[]string{reply(9, `,"recovered":false,"reason":"too_old"`)},
		[]string{reply(9, `,"recovered":true`), msg(10),
			`{"event":"nows.unrecovered","data":{"room":"news","reason":"epoch","pos":{"epoch":"f","offset":0}}}`},
		[]string{reply(0, `,"recovered":true`)},
	)
	c := client.New(url, fast())
	defer c.Close()
	recov, nums := recoveries(c), numbers(c)
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(testCtx(t), "news"); err != nil {
		t.Fatal(err)
	}
	since := func(p string) string { return `{"room":"news","since":` + p + `}` }
	for i, want := range []string{`{"room":"news"}`, since(pos(1)), since(pos(1)), since(pos(3)), since(pos(9)),
		since(`{"epoch":"f","offset":0}`)} {
		select {
		case got := <-joins:
			if got != want {
				t.Errorf("join %d: %s, want %s", i+1, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("join %d never came", i+1)
		}
	}
	ok := client.Recovery{Room: "news", Recovered: true}
	wantRecoveries(t, recov, first, ok, ok, client.Recovery{Room: "news", Reason: history.ReasonTooOld}, ok,
		client.Recovery{Room: "news", Reason: history.ReasonEpoch}, ok)
	if got := nums(); !slices.Equal(got, []int{1, 2, 3, 10}) {
		t.Errorf("messages %v", got)
	}
}
