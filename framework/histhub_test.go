package framework_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/historytest"
)

// histLimits is the window of the history tests' rooms.
var histLimits = history.Limits{Size: 10000, TTL: time.Hour}

// histServer serves brokertest.Rooms, nows.v1 offered, with history on
// for the rooms "h.*" in store.
func histServer(t *testing.T, store history.Store, broker framework.Broker) *wstest.Server {
	t.Helper()
	opts := framework.Options{
		Subprotocols: []string{"nows.v1"},
		SendQueue:    framework.QueueOptions{MaxMessages: 4000},
		Hub: framework.HubOptions{Broker: broker, History: history.Config{
			Store: store,
			Rooms: map[string]history.Limits{"h.*": histLimits},
		}},
	}
	return wstest.NewServerOptions(t, opts, brokertest.Rooms)
}

// joinRoom dials /rooms/room, as an events member (nows.v1) or a plain
// one, reads the greeting and returns the client and its connection ID.
func joinRoom(t *testing.T, s *wstest.Server, room string, events bool) (*wstest.Client, string) {
	t.Helper()
	var opts *websocket.DialOptions
	if events {
		opts = &websocket.DialOptions{Subprotocols: []string{"nows.v1"}}
	}
	c, _, err := s.DialOptions(t, "/rooms/"+room, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := c.Conn().Subprotocol(); (got == "nows.v1") != events {
		t.Fatalf("subprotocol %q", got)
	}
	id, ok := strings.CutPrefix(c.ReadText(), "joined ")
	if !ok {
		t.Fatal("no greeting")
	}
	return c, id
}

// roomTop reads room's position from store.
func roomTop(t *testing.T, store history.Store, room string) history.Position {
	t.Helper()
	r, err := store.Since(context.Background(), room, history.Position{}, 0, histLimits)
	if err != nil {
		t.Fatal(err)
	}
	return r.Top
}

// TestHistoryFrames: a room with history delivers, through the store,
// each message to plain members as sent and to events members with its
// room and position (the exact bytes of internal/recovery/design.md §5); the
// connection BroadcastOthers leaves out gets nows.pos if it speaks
// nows.v1, nothing if not; a room without history is unchanged.
func TestHistoryFrames(t *testing.T) {
	t.Parallel()
	store := history.NewMemory()
	s := histServer(t, store, nil)
	plain, plainID := joinRoom(t, s, "h.lobby", false)
	ev, _ := joinRoom(t, s, "h.lobby", true)
	epoch := roomTop(t, store, "h.lobby").Epoch
	pos := func(n int) string {
		return `"room":"h.lobby","pos":{"epoch":"` + epoch + `","offset":` + strconv.Itoa(n) + `}`
	}

	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	hub := s.Hub()
	for _, m := range []framework.Message{
		framework.Text(`{"event":"chat.message","data":{"name":"ada","text":"hi"}}`),
		framework.Text("hello, plain"),
		framework.Binary([]byte{0, 1, 2}),
		framework.Text(`{"event":"ask","id":3}`), // a request is not a room event
	} {
		if err := hub.Broadcast(ctx, "h.lobby", m); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	plain.ExpectText(`{"event":"chat.message","data":{"name":"ada","text":"hi"}}`)
	plain.ExpectText("hello, plain")
	plain.ExpectBinary([]byte{0, 1, 2})
	plain.ExpectText(`{"event":"ask","id":3}`)
	ev.ExpectText(`{"event":"chat.message","data":{"name":"ada","text":"hi"},` + pos(1) + `}`)
	ev.ExpectText(`{"event":"nows.text","data":"hello, plain",` + pos(2) + `}`)
	ev.ExpectText(`{"event":"nows.binary","data":"AAEC",` + pos(3) + `}`)
	ev.ExpectText(`{"event":"nows.text","data":"{\"event\":\"ask\",\"id\":3}",` + pos(4) + `}`)

	ev.SendText("others:from ev")
	plain.ExpectText("from ev")
	ev.ExpectText(`{"event":"nows.pos",` + pos(5) + `}`)
	plain.SendText("others:from plain")
	ev.ExpectText(`{"event":"nows.text","data":"from plain",` + pos(6) + `}`)
	plain.SendText("direct:after") // nothing came to plain from its own message
	plain.ExpectText("after")

	r, err := store.Since(ctx, "h.lobby", history.Position{Epoch: epoch}, 100, histLimits)
	if err != nil || len(r.Entries) != 6 || r.Entries[5].Except != plainID || string(r.Entries[5].Data) != "from plain" {
		t.Fatalf("the store has %+v, %v", r, err)
	}

	// A room without history: as today, nothing in the store.
	evPlainRoom, _ := joinRoom(t, s, "lobby", true)
	if err := hub.Broadcast(ctx, "lobby", framework.Text("live")); err != nil {
		t.Fatal(err)
	}
	evPlainRoom.ExpectText("live")
	if top := roomTop(t, store, "lobby"); top.Offset != 0 {
		t.Errorf("a room without history was stored: %+v", top)
	}
}

// TestHistoryTwoNodes: two nodes share a store and no broker; each
// message reaches the members of both, and concurrent broadcasts on both
// nodes reach every member in one order, the store's, exactly once.
func TestHistoryTwoNodes(t *testing.T) {
	t.Parallel()
	store := history.NewMemory()
	a, b := histServer(t, store, nil), histServer(t, store, nil)
	ca, _ := joinRoom(t, a, "h.r", false)
	cb, _ := joinRoom(t, b, "h.r", true)
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()

	const n = 300
	historytest.Broadcast(ctx, t, "h.r", n, a, b)
	historytest.ExpectStoreOrder(ctx, t, store, histLimits, "h.r", history.Position{Epoch: roomTop(t, store, "h.r").Epoch}, 2*n, ca, cb)
}

// TestHistoryPublisher: a hub of NewHub with history and no broker
// writes to the store, and a server's members get the message from it.
func TestHistoryPublisher(t *testing.T) {
	t.Parallel()
	store := history.NewMemory()
	s := histServer(t, store, nil)
	c, _ := joinRoom(t, s, "h.news", false)
	pub := framework.NewHub(framework.HubOptions{History: history.Config{
		Store: store, Rooms: map[string]history.Limits{"h.*": histLimits},
	}})
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	for i := range 3 {
		if err := pub.Broadcast(ctx, "h.news", framework.Text("n"+strconv.Itoa(i))); err != nil {
			t.Fatalf("Publisher Broadcast: %v", err)
		}
	}
	for i := range 3 {
		c.ExpectText("n" + strconv.Itoa(i))
	}
	if err := pub.Broadcast(ctx, "other", framework.Text("x")); !errors.Is(err, framework.ErrBroker) {
		t.Errorf("a room without history on a Publisher without broker: %v, want ErrBroker", err)
	}
}

// failingStore is a memory store whose Append fails while fail is set,
// and whose feed loses the entries for which drop returns true.
type failingStore struct {
	*history.Memory
	mu        sync.Mutex
	fail      bool
	failReads bool // Since fails too
	drop      func(history.Entry) bool
}

var errStoreDown = errors.New("store down")

func (s *failingStore) Append(ctx context.Context, room string, m history.Entry, lim history.Limits) (history.Entry, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return history.Entry{}, errStoreDown
	}
	return s.Memory.Append(ctx, room, m, lim)
}

func (s *failingStore) Since(ctx context.Context, room string, since history.Position, limit int, lim history.Limits) (history.Result, error) {
	s.mu.Lock()
	fail := s.failReads
	s.mu.Unlock()
	if fail {
		return history.Result{}, errStoreDown
	}
	return s.Memory.Since(ctx, room, since, limit, lim)
}

func (s *failingStore) Watch(ctx context.Context, fn func(history.Update)) error {
	return s.Memory.Watch(ctx, func(u history.Update) {
		if !u.Lost && s.drop != nil && s.drop(u.Entry) {
			return
		}
		fn(u)
	})
}

// TestHistoryAppendFails: the store's error is Broadcast's, and nothing
// is delivered.
func TestHistoryAppendFails(t *testing.T) {
	t.Parallel()
	store := &failingStore{Memory: history.NewMemory()}
	s := histServer(t, store, nil)
	c, _ := joinRoom(t, s, "h.r", false)
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	store.mu.Lock()
	store.fail = true
	store.mu.Unlock()
	if err := s.Hub().Broadcast(ctx, "h.r", framework.Text("lost")); !errors.Is(err, errStoreDown) {
		t.Fatalf("Broadcast: %v, want the store's error", err)
	}
	store.mu.Lock()
	store.fail = false
	store.mu.Unlock()
	if err := s.Hub().Broadcast(ctx, "h.r", framework.Text("kept")); err != nil {
		t.Fatal(err)
	}
	c.ExpectText("kept")
}

// TestHistoryFeedGaps: entries the feed loses reach the members all the
// same, in order, once: the node's cursor sees the gap and reads the
// store. The messages come from another node (a Publisher), so that the
// feed is the only live path.
func TestHistoryFeedGaps(t *testing.T) {
	t.Parallel()
	store := &failingStore{Memory: history.NewMemory(), drop: func(e history.Entry) bool { return e.Pos.Offset%3 == 0 }}
	s := histServer(t, store, nil)
	c, _ := joinRoom(t, s, "h.r", true)
	pub := framework.NewHub(framework.HubOptions{History: history.Config{
		Store: store, Rooms: map[string]history.Limits{"h.*": histLimits},
	}})
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	const n = 50
	for i := range n {
		if err := pub.Broadcast(ctx, "h.r", framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	epoch := roomTop(t, store, "h.r").Epoch
	for i := range n {
		c.ExpectText(fmt.Sprintf(`{"event":"nows.text","data":"%d","room":"h.r","pos":{"epoch":%q,"offset":%d}}`, i, epoch, i+1))
	}
}

// TestHistoryDropCloses: with QueueDrop, a nows.v1 member of a room with
// history that stops reading is closed with 1013 (it will recover), not
// left with a silent gap; a plain member keeps the policy (drops).
func TestHistoryDropCloses(t *testing.T) {
	t.Parallel()
	opts := framework.Options{
		Subprotocols: []string{"nows.v1"},
		Hub: framework.HubOptions{History: history.Config{
			Store: history.NewMemory(),
			Rooms: map[string]history.Limits{"h.*": histLimits},
		}},
	}
	s := wstest.NewServerOptions(t, opts, slowBP, brokertest.Rooms)
	hub := s.Hub()
	dialSlowProto(t, s.URL("/slow/drop/h.r?user=ev"), "nows.v1")
	dialSlowProto(t, s.URL("/slow/drop/h.r?user=plain"), "")
	conns := map[string]*framework.Conn{}
	for _, c := range hub.LocalMembers("h.r") {
		conns[c.User()] = c
	}
	if conns["ev"] == nil || conns["plain"] == nil {
		t.Fatal("the slow clients are not in the room")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := strings.Repeat("x", 16<<10)
	for i := 0; conns["ev"].Connected() || framework.QueueStats(conns["plain"]).Dropped == 0; i++ {
		if i == 4000 {
			t.Fatalf("not applied after %d broadcasts: events member connected %v, plain stats %+v",
				i, conns["ev"].Connected(), framework.QueueStats(conns["plain"]))
		}
		if err := hub.Broadcast(ctx, "h.r", framework.Text(payload)); err != nil {
			t.Fatal(err)
		}
	}
	if !conns["plain"].Connected() {
		t.Error("the plain member was closed; QueueDrop drops for it")
	}
	if framework.QueueStats(conns["ev"]).Dropped == 0 {
		t.Error("the events member dropped nothing")
	}
}

// dialSlowProto is dialSlow with a subprotocol ("" for none).
func dialSlowProto(t *testing.T, url, proto string) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	var protos []string
	if proto != "" {
		protos = []string{proto}
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, Subprotocols: protos})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		_ = ws.CloseNow()
		client.CloseIdleConnections()
	})
	ws.SetReadLimit(-1)
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	if ws.Subprotocol() != proto {
		t.Fatalf("subprotocol %q, want %q", ws.Subprotocol(), proto)
	}
	return ws
}

// TestHistoryPendingBound: while the store cannot be read, a room's
// entries after one the feed lost wait for it, up to a bound; past it
// the node gives up on the missing one (counted), tells its events
// members (nows.unrecovered, unavailable, at the position before what
// follows) and goes on; its plain members get the rest.
func TestHistoryPendingBound(t *testing.T) {
	t.Parallel()
	store := &failingStore{Memory: history.NewMemory(), drop: func(e history.Entry) bool { return e.Pos.Offset == 3 }}
	s := histServer(t, store, nil)
	framework.SetHistMaxPending(s.Hub(), 5)
	plain, _ := joinRoom(t, s, "h.r", false)
	ev, _ := joinRoom(t, s, "h.r", true)
	pub := framework.NewHub(framework.HubOptions{History: history.Config{
		Store: store, Rooms: map[string]history.Limits{"h.*": histLimits},
	}})
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	send := func(from, to int) {
		for i := from; i <= to; i++ {
			if err := pub.Broadcast(ctx, "h.r", framework.Text(strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	epoch := roomTop(t, store, "h.r").Epoch
	frame := func(i int) string {
		return fmt.Sprintf(`{"event":"nows.text","data":"%d","room":"h.r","pos":{"epoch":%q,"offset":%d}}`, i, epoch, i)
	}
	send(1, 1) // the node has read the room's top: its reads may fail now
	plain.ExpectText("1")
	ev.ExpectText(frame(1))
	store.mu.Lock()
	store.failReads = true
	store.mu.Unlock()
	send(2, 13) // 3 lost by the feed; 4..9 are 6 waiting, past the bound of 5
	ev.ExpectText(frame(2))
	ev.ExpectText(fmt.Sprintf(`{"event":"nows.unrecovered","data":{"room":"h.r","reason":"unavailable","pos":{"epoch":%q,"offset":3}}}`, epoch))
	for i := 4; i <= 13; i++ {
		ev.ExpectText(frame(i))
	}
	for _, i := range []int{2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13} {
		plain.ExpectText(strconv.Itoa(i))
	}
	if n := framework.HistSkipped(s.Hub()); n != 1 {
		t.Errorf("%d gaps given up on, want 1", n)
	}
}
