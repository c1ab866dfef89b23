package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/wstest"
)

// TestHubMemoryBroker runs the cross-node checks with three servers of
// this process sharing a MemoryBroker.
func TestHubMemoryBroker(t *testing.T) {
	mb := framework.NewMemoryBroker()
	brokertest.Run(t, brokertest.Harness{
		NewBroker: func(testing.TB) framework.Broker { return mb },
	})
}

func roomsServer(t *testing.T) *brokertest.Node {
	t.Helper()
	return &brokertest.Node{Server: wstest.NewServer(t, brokertest.Rooms)}
}

func TestHubJoinLeave(t *testing.T) {
	t.Parallel()
	srv := roomsServer(t)
	hub := srv.Hub()
	a := srv.Join(t, "lobby", "ann")
	b := srv.Join(t, "lobby", "ben")
	c := srv.Join(t, "kitchen", "cat")

	if got, want := memberUsers(hub.Members("lobby")), []string{"ann", "ben"}; !slices.Equal(got, want) {
		t.Fatalf("Members(lobby): got %v, want %v", got, want)
	}
	if got, want := hub.Rooms(), []string{"kitchen", "lobby"}; !slices.Equal(got, want) {
		t.Fatalf("Rooms: got %v, want %v", got, want)
	}
	conns := hub.LocalMembers("kitchen")
	if len(conns) != 1 || conns[0].ID() != c.ID || conns[0].User() != "cat" {
		t.Fatalf("LocalMembers(kitchen): got %d conns, want cat's (%s)", len(conns), c.ID)
	}
	if got := conns[0].Rooms(); !slices.Equal(got, []string{"kitchen"}) {
		t.Fatalf("Conn.Rooms: got %v, want [kitchen]", got)
	}

	// To the room, to the room but the sender, to everyone.
	a.Send("say:hi")
	a.Expect("hi")
	b.Expect("hi")
	b.Send("others:psst")
	a.Expect("psst")
	a.Send("say:end")
	b.Expect("end") // not "psst"
	a.Expect("end")
	c.Send("all:fire drill")
	for _, p := range []*brokertest.Peer{a, b, c} {
		p.Expect("fire drill")
	}
	c.Send("say:kitchen only")
	c.Expect("kitchen only")
	a.Send("say:lobby only")
	a.Expect("lobby only")
	b.Expect("lobby only")

	// Leave, then leave on close.
	b.Send("leave")
	b.Expect("left")
	a.Send("say:after ben left")
	a.Expect("after ben left")
	b.Send("direct:ping")
	b.Expect("ping") // not "after ben left"
	a.Close()
	eventually(t, "ann leaves on close", func() bool { return len(hub.Members("lobby")) == 0 })
	if got, want := hub.Rooms(), []string{"kitchen"}; !slices.Equal(got, want) {
		t.Fatalf("Rooms after leaving: got %v, want %v", got, want)
	}
}

func memberUsers(ms []framework.Member) []string {
	var users []string
	for _, m := range ms {
		users = append(users, m.User)
	}
	slices.Sort(users)
	return users
}

func TestHubPresenceEvents(t *testing.T) {
	t.Parallel()
	srv := roomsServer(t)
	events := make(chan framework.PresenceEvent, 16)
	stop := srv.Hub().Watch(func(ev framework.PresenceEvent) { events <- ev })
	defer stop()
	p := srv.Join(t, "r", "zoe")
	p.Close()
	for _, want := range []bool{true, false} {
		reason := framework.LeaveMember
		if want {
			reason = ""
		}
		select {
		case ev := <-events:
			if ev.Joined != want || ev.Room != "r" || ev.Member.User != "zoe" || ev.Member.ID != p.ID || ev.Member.Node != srv.Hub().Node() || ev.Reason != reason {
				t.Fatalf("got event %+v, want Joined=%v of zoe (%s) in r, reason %q", ev, want, p.ID, reason)
			}
		case <-time.After(rawTimeout):
			t.Fatalf("no Joined=%v event within %v", want, rawTimeout)
		}
	}
}

// TestHubOrder: 1,000 broadcasts arrive in order, and so do broadcasts
// mixed with direct sends to the same connection.
func TestHubOrder(t *testing.T) {
	t.Parallel()
	// A queue that holds the whole burst: the test broadcasts faster than
	// any client reads.
	opts := framework.Options{SendQueue: framework.QueueOptions{MaxMessages: 2000}}
	srv := &brokertest.Node{Server: wstest.NewServerOptions(t, opts, brokertest.Rooms)}
	a := srv.Join(t, "r", "a")
	b := srv.Join(t, "r", "b")
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	for i := range 1000 {
		if err := srv.Hub().Broadcast(ctx, "r", framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for i := range 1000 {
		a.Expect(strconv.Itoa(i))
		b.Expect(strconv.Itoa(i))
	}
	a.Send("mixed:1000")
	for i := range 1000 {
		a.Expect(strconv.Itoa(i))
		if i%2 == 0 {
			b.Expect(strconv.Itoa(i))
		}
	}
}

func TestHubMessages(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, brokertest.Rooms)
	c := srv.Dial(t, "/rooms/r?user=u")
	if got := c.ReadText(); !strings.HasPrefix(got, "joined ") {
		t.Fatalf("got %q, want the greeting", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	hub := srv.Hub()
	data := []byte{1, 2, 3}
	bin := framework.Binary(data)
	data[0] = 9 // Binary copied it
	js, err := framework.JSON(map[string]string{"type": "message"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []framework.Message{framework.Text("héllo"), bin, js} {
		if err := hub.Broadcast(ctx, "r", m); err != nil {
			t.Fatalf("Broadcast %v: %v", m.Type, err)
		}
	}
	c.ExpectText("héllo")
	c.ExpectBinary([]byte{1, 2, 3})
	c.ExpectText(`{"type":"message"}`)

	tests := []struct {
		name string
		room string
		m    framework.Message
		want error
	}{
		{"invalid UTF-8", "r", framework.Text("\xff"), framework.ErrBadMessage},
		{"no type", "r", framework.Message{Data: []byte("x")}, framework.ErrBadMessage},
		{"empty room", "", framework.Text("x"), framework.ErrEmptyName},
	}
	for _, tc := range tests {
		if err := hub.Broadcast(ctx, tc.room, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := framework.JSON(make(chan int)); err == nil {
		t.Errorf("JSON(chan): got nil error, want one")
	}
	if err := hub.DisconnectRoom(ctx, "r", 1005, ""); !errors.Is(err, framework.ErrBadCloseCode) {
		t.Errorf("DisconnectRoom(1005): got %v, want ErrBadCloseCode", err)
	}
}

// slowBP serves the room handler with small send queues of each policy.
var slowBP = framework.NewBlueprint("/slow",
	framework.Route[brokertest.RoomHandler]("/drop/{room:str}").
		WithQueue(framework.QueueOptions{MaxMessages: 8, Policy: framework.QueueDrop}),
	framework.Route[brokertest.RoomHandler]("/close/{room:str}").
		WithQueue(framework.QueueOptions{MaxMessages: 8}),
	framework.Route[brokertest.RoomHandler]("/block/{room:str}").
		WithQueue(framework.QueueOptions{MaxMessages: 8, Policy: framework.QueueBlock, BlockTimeout: 300 * time.Millisecond}),
)

// dialSlow connects with a 4 KiB receive buffer and reads the greeting;
// the caller then stops reading.
func dialSlow(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
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
	return ws
}

// TestHubSlowClient: a client that stops reading gets its route's policy,
// and the others receive every broadcast promptly all the while.
func TestHubSlowClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy  string
		maxWait time.Duration // the longest a Broadcast may take
		closed  bool          // the slow client ends with 1013
	}{
		{"drop", time.Second, false},
		{"close", time.Second, true},
		{"block", 300*time.Millisecond + time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			srv := wstest.NewServer(t, slowBP, brokertest.Rooms)
			hub := srv.Hub()
			fast := brokertest.Dial(t, srv.URL("/rooms/r?user=fast")) // default queue
			slow := dialSlow(t, srv.URL("/slow/"+tc.policy+"/r?user=slow"))
			var slowConn *framework.Conn
			for _, c := range hub.LocalMembers("r") {
				if c.User() == "slow" {
					slowConn = c
				}
			}
			if slowConn == nil {
				t.Fatal("the slow client is not in the room")
			}
			applied := func() bool {
				if tc.closed {
					return !slowConn.Connected()
				}
				return framework.QueueStats(slowConn).Dropped > 0
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			payload := strings.Repeat("x", 16<<10)
			var longest, fastLatency time.Duration
			waitedBehindFast := false
			sent, extra := 0, 10
			for ; extra > 0; sent++ {
				if sent == 4000 {
					t.Fatalf("policy %s not applied after %d broadcasts (stats %+v)", tc.policy, sent, framework.QueueStats(slowConn))
				}
				start := time.Now()
				returned := make(chan time.Time, 1)
				go func() {
					if err := hub.Broadcast(ctx, "r", framework.Text(fmt.Sprintf("%d %s", sent, payload))); err != nil {
						t.Errorf("Broadcast: %v", err)
					}
					returned <- time.Now()
				}()
				got := fast.Next()
				received := time.Now()
				if n, _, _ := strings.Cut(got, " "); n != strconv.Itoa(sent) {
					t.Fatalf("fast client: got message %.10q, want number %d", got, sent)
				}
				end := <-returned
				fastLatency = max(fastLatency, received.Sub(start))
				longest = max(longest, end.Sub(start))
				if end.Sub(start) >= 300*time.Millisecond && received.Before(end) {
					waitedBehindFast = true
				}
				if applied() {
					extra--
				}
			}
			// Generous bounds for a loaded CI machine: a slow client would
			// hold a write for WriteTimeout (10 s).
			if fastLatency > time.Second {
				t.Errorf("the fast client waited up to %v for a broadcast, want < 1s", fastLatency)
			}
			if longest > tc.maxWait {
				t.Errorf("the longest Broadcast took %v, want <= %v", longest, tc.maxWait)
			}
			if tc.policy == "block" && !waitedBehindFast {
				t.Errorf("QueueBlock: no Broadcast waited for the slow client after serving the fast one")
			}
			t.Logf("policy %s: applied after about %d broadcasts; longest Broadcast %v; fast latency <= %v; slow stats %+v",
				tc.policy, sent-10, longest, fastLatency, framework.QueueStats(slowConn))

			st := framework.HubStats(hub)
			if st.Dropped == 0 {
				t.Errorf("hub Dropped: got 0, want > 0")
			}
			if !tc.closed {
				if !slowConn.Connected() {
					t.Errorf("slow client with QueueDrop: closed, want open")
				}
				return
			}
			if st.SlowClosed != 1 {
				t.Errorf("hub SlowClosed: got %d, want 1", st.SlowClosed)
			}
			// The slow client reads again: what was in flight, then 1013.
			expectClose1013(t, slow)
			eventually(t, "the end of the slow client", func() bool { return !slowConn.Connected() && slowConn.Context().Err() != nil })
		})
	}
}

// TestHubWriterExits: the send queue's writer goroutine exists only while
// messages wait, so an idle room costs no goroutine per connection.
func TestHubWriterExits(t *testing.T) {
	srv := roomsServer(t)
	var peers []*brokertest.Peer
	for i := range 50 {
		peers = append(peers, srv.Join(t, "r", strconv.Itoa(i)))
	}
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	for i := range 20 {
		if err := srv.Hub().Broadcast(ctx, "r", framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, p := range peers {
		for i := range 20 {
			p.Expect(strconv.Itoa(i))
		}
	}
	wg.Wait()
	eventually(t, "writer goroutines exit once the queues drain", func() bool { return runtime.NumGoroutine() <= base })
	st := framework.HubStats(srv.Hub())
	if st.Queued != 50*20 || st.Sent != 50*20 || st.Dropped != 0 {
		t.Errorf("hub stats: got %+v, want 1000 queued and sent, 0 dropped", st)
	}
	qs := framework.QueueStats(srv.Hub().LocalMembers("r")[0])
	if qs.Queued != 20 || qs.Sent != 20 || qs.Pending != 0 {
		t.Errorf("queue stats: got %+v, want 20 queued and sent, none pending", qs)
	}
}

// BenchmarkFanOut: one message to a room of 1,000 and 10,000 connections
// of one server (the in-process hub).
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 9000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			opts := framework.Options{Logger: slog.New(slog.DiscardHandler)}
			node := &brokertest.Node{Server: wstest.NewServerOptions(b, opts, brokertest.Rooms)}
			brokertest.FanOut(b, []*brokertest.Node{node}, n)
		})
	}
}
