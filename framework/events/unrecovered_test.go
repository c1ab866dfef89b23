package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
)

// hookCalls records the OnUnrecovered calls of a server's snapRooms.
type hookCalls struct {
	mu     sync.Mutex
	got    []string // "user room reason", in order
	during bool     // the hook broadcasts "during" to the room before its snapshot
	fail   bool     // the hook returns an error
}

func (h *hookCalls) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// snapRoom is a handler with OnUnrecovered: it sends the client a
// snapshot. With during set it first broadcasts to the room, a message
// that would reach the client before the snapshot if the hook did not
// hold the room's messages back.
type snapRoom struct{ calls *hookCalls }

func (r *snapRoom) OnJoin(ctx context.Context, c *framework.Conn, room string) error { return nil }

func (r *snapRoom) OnUnrecovered(ctx context.Context, c *framework.Conn, room string, reason history.Reason) error {
	r.calls.mu.Lock()
	r.calls.got = append(r.calls.got, c.Request().URL.Query().Get("user")+" "+room+" "+string(reason))
	during, fail := r.calls.during, r.calls.fail
	r.calls.mu.Unlock()
	if fail {
		return errors.New("no snapshot today")
	}
	if during {
		if err := c.Hub().Broadcast(ctx, room, framework.Text("during")); err != nil {
			return err
		}
	}
	return events.Emit(ctx, c, "snapshot", map[string]string{"room": room, "reason": string(reason)})
}

// snapServer serves snapRoom at /snap with history for "lobby" in store
// (nil: a new memory store), with window lim.
func snapServer(t *testing.T, store history.Store, lim history.Limits) (*wstest.Server, *hookCalls) {
	t.Helper()
	if store == nil {
		store = history.NewMemory()
	}
	calls := &hookCalls{}
	opts := framework.Options{Hub: framework.HubOptions{History: history.Config{
		Store: store, Rooms: map[string]history.Limits{"lobby": lim},
	}}}
	route := events.RouteFunc("/snap", func() *snapRoom { return &snapRoom{calls: calls} })
	return wstest.NewServerOptions(t, opts, framework.NewBlueprint("", route)), calls
}

// at formats a position as the protocol writes it.
func at(epoch string, off uint64) string {
	return fmt.Sprintf(`{"epoch":%q,"offset":%d}`, epoch, off)
}

// text is a nows.text frame of lobby.
func text(data, epoch string, off uint64) string {
	return `{"event":"nows.text","data":"` + data + `","room":"lobby","pos":` + at(epoch, off) + `}`
}

// joinLobby dials /snap as user and joins lobby with since ("" for none).
func joinLobby(t *testing.T, srv *wstest.Server, user, since string) *wstest.Client {
	t.Helper()
	c := dial(t, srv, "/snap?user="+user)
	data := `{"room":"lobby"}`
	if since != "" {
		data = `{"room":"lobby","since":` + since + `}`
	}
	c.SendText(`{"event":"nows.join","id":1,"data":` + data + `}`)
	return c
}

// broadcast sends texts to lobby.
func broadcast(t *testing.T, srv *wstest.Server, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if err := srv.Hub().Broadcast(context.Background(), "lobby", framework.Text(s)); err != nil {
			t.Fatal(err)
		}
	}
}

// expectCalls waits for the hook's calls to be want (sorted), and checks
// that no other comes within 100 ms.
func expectCalls(t *testing.T, calls *hookCalls, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(calls.list()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got := calls.list()
	slices.Sort(got) // the hooks of several connections run on their own workers
	if !slices.Equal(got, want) {
		t.Errorf("OnUnrecovered ran for %q, want %q", got, want)
	}
}

// TestUnrecoveredTooOld: a join whose position left the window (by
// size) is told so, then OnUnrecovered runs once, and what it sends
// reaches the client before the room's next message, even one sent
// during the hook; a join inside the window runs no hook.
func TestUnrecoveredTooOld(t *testing.T) {
	srv, calls := snapServer(t, nil, history.Limits{Size: 3, TTL: time.Hour})
	calls.during = true
	a := joinLobby(t, srv, "a", "")
	ep := readJoined(t, a)
	broadcast(t, srv, "m1", "m2", "m3", "m4", "m5")
	for i := range uint64(5) {
		a.ExpectText(text(fmt.Sprintf("m%d", i+1), ep, i+1))
	}

	b := joinLobby(t, srv, "b", at(ep, 1)) // 2 left the window (3..5)
	b.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 5) + `,"recovered":false,"reason":"too_old"}}`)
	b.ExpectText(`{"event":"snapshot","data":{"reason":"too_old","room":"lobby"}}`)
	b.ExpectText(text("during", ep, 6))
	a.ExpectText(text("during", ep, 6))
	broadcast(t, srv, "m7")
	b.ExpectText(text("m7", ep, 7))

	c := joinLobby(t, srv, "c", at(ep, 5)) // inside the window
	c.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 7) + `,"recovered":true}}`)
	c.ExpectText(text("during", ep, 6))
	c.ExpectText(text("m7", ep, 7))
	expectCalls(t, calls, "b lobby too_old")
}

// readJoined reads the reply to a join without since and returns the
// room's epoch.
func readJoined(t *testing.T, c *wstest.Client) string {
	t.Helper()
	got := c.ReadText()
	ep, ok := strings.CutPrefix(got, `{"reply":1,"data":{"room":"lobby","pos":{"epoch":"`)
	if !ok || !strings.HasSuffix(ep, `","offset":0}}}`) {
		t.Fatalf("join reply %s", got)
	}
	return strings.TrimSuffix(ep, `","offset":0}}}`)
}

// TestUnrecoveredTTL: messages older than the window's TTL are too old;
// a position at the top is recovered all the same.
func TestUnrecoveredTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	srv, calls := snapServer(t, nil, history.Limits{Size: 100, TTL: ttl})
	a := joinLobby(t, srv, "a", "")
	ep := readJoined(t, a)
	broadcast(t, srv, "m1", "m2")
	a.ExpectText(text("m1", ep, 1))
	a.ExpectText(text("m2", ep, 2))
	time.Sleep(ttl + 200*time.Millisecond)

	b := joinLobby(t, srv, "b", at(ep, 1))
	b.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 2) + `,"recovered":false,"reason":"too_old"}}`)
	b.ExpectText(`{"event":"snapshot","data":{"reason":"too_old","room":"lobby"}}`)
	c := joinLobby(t, srv, "c", at(ep, 2))
	c.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 2) + `,"recovered":true}}`)
	broadcast(t, srv, "m3")
	b.ExpectText(text("m3", ep, 3))
	c.ExpectText(text("m3", ep, 3))
	expectCalls(t, calls, "b lobby too_old")
}

// TestUnrecoveredEpoch: a position of another store (the server's store
// is new: it restarted) is told as epoch, and the hook runs once.
func TestUnrecoveredEpoch(t *testing.T) {
	lim := history.Limits{Size: 10, TTL: time.Hour}
	old := history.NewMemory()
	e, err := old.Append(context.Background(), "lobby", history.Entry{Data: []byte("before")}, lim)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // the new store's epoch is younger
	srv, calls := snapServer(t, nil, lim)
	calls.during = true
	b := joinLobby(t, srv, "b", at(e.Pos.Epoch, e.Pos.Offset))
	got := b.ReadText()
	ep, ok := strings.CutPrefix(got, `{"reply":1,"data":{"room":"lobby","pos":{"epoch":"`)
	if !ok || !strings.HasSuffix(ep, `","offset":0},"recovered":false,"reason":"epoch"}}`) {
		t.Fatalf("join reply %s, want not recovered (epoch)", got)
	}
	ep = strings.TrimSuffix(ep, `","offset":0},"recovered":false,"reason":"epoch"}}`)
	if ep <= e.Pos.Epoch {
		t.Fatalf("the new store's epoch %q does not sort after the old one's %q", ep, e.Pos.Epoch)
	}
	b.ExpectText(`{"event":"snapshot","data":{"reason":"epoch","room":"lobby"}}`)
	b.ExpectText(text("during", ep, 1))
	expectCalls(t, calls, "b lobby epoch")
}

// TestUnrecoveredFails: an error of OnUnrecovered closes the connection
// as the other hooks' do (1011), and the messages held for it are never
// sent.
func TestUnrecoveredFails(t *testing.T) {
	srv, calls := snapServer(t, nil, history.Limits{Size: 1, TTL: time.Hour})
	calls.fail = true
	a := joinLobby(t, srv, "a", "")
	ep := readJoined(t, a)
	broadcast(t, srv, "m1", "m2")
	b := joinLobby(t, srv, "b", at(ep, 0))
	b.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 2) + `,"recovered":false,"reason":"too_old"}}`)
	b.ExpectClose(websocket.StatusInternalError)
	expectCalls(t, calls, "b lobby too_old")
}

// swapStore is a memory store that can be replaced by a new one (a store
// that lost everything: another epoch), and whose reads can be held.
type swapStore struct {
	mu      sync.Mutex
	cur     *history.Memory
	swapped chan struct{} // closed when cur is replaced
	gate    chan struct{} // reads wait while it is open, or nil
	waiting int           // reads that waited at a gate
}

func newSwapStore() *swapStore {
	return &swapStore{cur: history.NewMemory(), swapped: make(chan struct{})}
}

func (s *swapStore) current() (*history.Memory, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.swapped
}

// swap replaces the store by a new, empty one.
func (s *swapStore) swap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(time.Millisecond) // the new store's epochs are younger
	s.cur = history.NewMemory()
	close(s.swapped)
	s.swapped = make(chan struct{})
}

// hold makes the reads wait until release.
func (s *swapStore) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

func (s *swapStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.gate)
	s.gate = nil
}

// waitReads waits until n reads have waited at a gate.
func (s *swapStore) waitReads(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		w := s.waiting
		s.mu.Unlock()
		if w >= n {
			return
		}
	}
	t.Fatalf("fewer than %d reads came", n)
}

func (s *swapStore) Append(ctx context.Context, room string, m history.Entry, lim history.Limits) (history.Entry, error) {
	cur, _ := s.current()
	return cur.Append(ctx, room, m, lim)
}

func (s *swapStore) Since(ctx context.Context, room string, since history.Position, limit int, lim history.Limits) (history.Result, error) {
	s.mu.Lock()
	gate := s.gate
	if gate != nil {
		s.waiting++
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return history.Result{}, ctx.Err()
		}
	}
	cur, _ := s.current()
	return cur.Since(ctx, room, since, limit, lim)
}

// Watch follows the current store's feed, and the new one's after a
// swap (its first update, Lost, makes the watcher read again).
func (s *swapStore) Watch(ctx context.Context, fn func(history.Update)) error {
	for {
		cur, swapped := s.current()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-swapped:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := cur.Watch(wctx, fn)
		cancel()
		if ctx.Err() != nil {
			return err
		}
	}
}

// TestUnrecoveredLater: the store loses the room's history (a new epoch)
// under a live member and under one still recovering. The live one is
// told by nows.unrecovered, the recovering one by its join's reply; the
// hook runs once for each, before what follows; neither gets a message
// twice, and both go on with the new history.
func TestUnrecoveredLater(t *testing.T) {
	store := newSwapStore()
	lim := history.Limits{Size: 100, TTL: time.Hour}
	srv, calls := snapServer(t, store, lim)
	a := joinLobby(t, srv, "a", "")
	ep := readJoined(t, a)
	broadcast(t, srv, "m1", "m2", "m3")
	for i := range uint64(3) {
		a.ExpectText(text(fmt.Sprintf("m%d", i+1), ep, i+1))
	}

	store.hold()
	b := joinLobby(t, srv, "b", at(ep, 1)) // its read waits
	store.waitReads(t, 1)
	store.swap()
	store.waitReads(t, 2) // the node's read after the new feed's Lost
	broadcast(t, srv, "n1", "n2")
	store.release()

	top, err := store.Since(context.Background(), "lobby", history.Position{}, 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	ep2 := top.Top.Epoch
	a.ExpectText(`{"event":"nows.unrecovered","data":{"room":"lobby","reason":"epoch","pos":` + at(ep2, 2) + `}}`)
	a.ExpectText(`{"event":"snapshot","data":{"reason":"epoch","room":"lobby"}}`)
	b.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep2, 2) + `,"recovered":false,"reason":"epoch"}}`)
	b.ExpectText(`{"event":"snapshot","data":{"reason":"epoch","room":"lobby"}}`)
	broadcast(t, srv, "n3", "n4")
	for _, c := range []*wstest.Client{a, b} {
		c.ExpectText(text("n3", ep2, 3))
		c.ExpectText(text("n4", ep2, 4))
	}
	expectCalls(t, calls, "a lobby epoch", "b lobby epoch")
}

// lossyFeed is a memory store whose feed can lose updates, as a
// subscription that drops, until lose says so (Lost).
type lossyFeed struct {
	*history.Memory
	mu       sync.Mutex
	dropping bool
	fn       func(history.Update) // the watcher's
}

func (s *lossyFeed) Watch(ctx context.Context, fn func(history.Update)) error {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
	return s.Memory.Watch(ctx, func(u history.Update) {
		s.mu.Lock()
		drop := s.dropping
		s.mu.Unlock()
		if !drop || u.Lost {
			fn(u)
		}
	})
}

// drop makes the feed lose its updates.
func (s *lossyFeed) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropping = true
}

// lose ends the losses, and says so, as a resubscription does.
func (s *lossyFeed) lose() {
	s.mu.Lock()
	s.dropping = false
	fn := s.fn
	s.mu.Unlock()
	fn(history.Update{Lost: true})
}

// TestUnrecoveredAheadOfNode: a member whose recovery read further than
// the node's feed had come waits for the node to catch up; when the node
// then loses entries after its position (the feed lost them and the
// window moved on), the member is told with the node's reason and runs
// its hook, then goes on; it is not left waiting for entries that will
// never come.
func TestUnrecoveredAheadOfNode(t *testing.T) {
	lim := history.Limits{Size: 3, TTL: time.Hour}
	store := &lossyFeed{Memory: history.NewMemory()}
	srv, calls := snapServer(t, store, lim)
	// A Publisher: its messages reach the node through the feed alone.
	pub := framework.NewHub(framework.HubOptions{History: history.Config{Store: store, Rooms: map[string]history.Limits{"lobby": lim}}})
	defer pub.Close()
	send := func(texts ...string) {
		for _, s := range texts {
			if err := pub.Broadcast(context.Background(), "lobby", framework.Text(s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := joinLobby(t, srv, "a", "")
	ep := readJoined(t, a)
	send("m1")
	a.ExpectText(text("m1", ep, 1))

	store.drop()
	send("m2", "m3") // the node stays at 1
	b := joinLobby(t, srv, "b", at(ep, 1))
	b.ExpectText(`{"reply":1,"data":{"room":"lobby","pos":` + at(ep, 3) + `,"recovered":true}}`)
	b.ExpectText(text("m2", ep, 2))
	b.ExpectText(text("m3", ep, 3)) // b is at 3, ahead of the node
	send("m4", "m5", "m6")          // the window (4..6) no longer has 2
	store.lose()
	a.ExpectText(`{"event":"nows.unrecovered","data":{"room":"lobby","reason":"too_old","pos":` + at(ep, 6) + `}}`)
	a.ExpectText(`{"event":"snapshot","data":{"reason":"too_old","room":"lobby"}}`)
	send("m7")
	b.ExpectText(`{"event":"nows.unrecovered","data":{"room":"lobby","reason":"too_old","pos":` + at(ep, 6) + `}}`)
	b.ExpectText(`{"event":"snapshot","data":{"reason":"too_old","room":"lobby"}}`)
	for _, c := range []*wstest.Client{a, b} {
		c.ExpectText(text("m7", ep, 7))
	}
	send("m8")
	for _, c := range []*wstest.Client{a, b} {
		c.ExpectText(text("m8", ep, 8))
	}
	expectCalls(t, calls, "a lobby too_old", "b lobby too_old")
}

// downReads is a memory store whose reads fail: appends and the feed
// work.
type downReads struct{ *history.Memory }

func (downReads) Since(context.Context, string, history.Position, int, history.Limits) (history.Result, error) {
	return history.Result{}, errors.New("store down")
}

// TestUnrecoveredUnavailable: a join whose read of the store fails goes
// live without recovery; the client is told (unavailable) and the hook
// runs once, before the first live message.
func TestUnrecoveredUnavailable(t *testing.T) {
	srv, calls := snapServer(t, downReads{history.NewMemory()}, history.Limits{Size: 10, TTL: time.Hour})
	calls.during = true
	b := joinLobby(t, srv, "b", "")
	b.ExpectText(`{"reply":1,"data":{"room":"lobby"}}`)
	b.ExpectText(`{"event":"nows.unrecovered","data":{"room":"lobby","reason":"unavailable","pos":{"epoch":"","offset":0}}}`)
	b.ExpectText(`{"event":"snapshot","data":{"reason":"unavailable","room":"lobby"}}`)
	got := b.ReadText() // "during", the first live message: its position is the store's
	if !strings.HasPrefix(got, `{"event":"nows.text","data":"during","room":"lobby","pos":{"epoch":"`) || !strings.HasSuffix(got, `","offset":1}}`) {
		t.Fatalf("got %s, want the message sent during the hook", got)
	}
	expectCalls(t, calls, "b lobby unavailable")
}
