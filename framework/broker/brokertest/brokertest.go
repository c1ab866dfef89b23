// Package brokertest checks a framework.Broker adapter with real servers:
// several nodes on 127.0.0.1 sharing the broker, WebSocket clients in
// rooms, and the guarantees of the hub across nodes (exactly-once
// delivery, except-sender, presence, disconnects, publishing from outside,
// broadcasts up to MaxMessageBytes, surviving a broker outage). Adapter packages call [Run] from a test:
//
//	func TestBroker(t *testing.T) {
//		brokertest.Run(t, brokertest.Harness{
//			NewBroker: func(t testing.TB) framework.Broker { ... },
//			Stop:      stopServer,
//			Start:     startServer,
//		})
//	}
package brokertest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// PresenceInterval is the hub presence interval of the test nodes.
const PresenceInterval = 100 * time.Millisecond

// Harness connects the checks to a broker.
type Harness struct {
	// NewBroker returns a new connection to the broker service, for one
	// node or publisher; the harness closes it (t.Cleanup) when needed.
	NewBroker func(t testing.TB) framework.Broker
	// Stop and Start stop the broker service and start it again at the
	// same address, for the outage check; nil skips it.
	Stop, Start func(t testing.TB)
}

// Run runs every check, one after the other (the nodes of one check are
// shut down before the next starts).
func Run(t *testing.T, h Harness) {
	t.Run("ExactlyOnce", func(t *testing.T) { testExactlyOnce(t, h) })
	t.Run("Presence", func(t *testing.T) { testPresence(t, h) })
	t.Run("Disconnect", func(t *testing.T) { testDisconnect(t, h) })
	t.Run("Publisher", func(t *testing.T) { testPublisher(t, h) })
	t.Run("LargeBroadcast", func(t *testing.T) { testLargeBroadcast(t, h) })
	if h.Stop != nil && h.Start != nil {
		t.Run("Outage", func(t *testing.T) { testOutage(t, h) })
	}
}

// Node is a server on 127.0.0.1 serving [Rooms] with a broker.
type Node struct {
	*wstest.Server
}

// NewNode starts a node that uses b.
func NewNode(t testing.TB, b framework.Broker) *Node {
	t.Helper()
	opts := framework.Options{Hub: framework.HubOptions{Broker: b, PresenceInterval: PresenceInterval}}
	return &Node{wstest.NewServerOptions(t, opts, Rooms)}
}

// Join connects a client to room as user.
func (n *Node) Join(t testing.TB, room, user string) *Peer {
	t.Helper()
	return Dial(t, n.URL("/rooms/"+url.PathEscape(room)+"?user="+url.QueryEscape(user)))
}

// Eventually polls cond every 10 ms until it holds, failing the test after
// d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: %s: not within %v", what, d)
		}
		<-tick.C
	}
}

// WaitMembers waits until every node sees exactly the users in room.
func WaitMembers(t testing.TB, room string, users []string, nodes ...*Node) {
	t.Helper()
	want := slices.Sorted(slices.Values(users))
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		agree := true
		for i, n := range nodes {
			got := memberUsers(n.Hub().Members(room))
			if !slices.Equal(got, want) {
				if time.Now().After(deadline) {
					t.Fatalf("brokertest: members of %q on node %d: got %v, want %v", room, i, got, want)
				}
				agree = false
				break
			}
		}
		if agree {
			return
		}
		<-tick.C
	}
}

func memberUsers(ms []framework.Member) []string {
	users := make([]string, len(ms))
	for i, m := range ms {
		users[i] = m.User
	}
	slices.Sort(users)
	return users
}

func roomName(t testing.TB, suffix string) string {
	return strings.ReplaceAll(t.Name(), "/", ".") + "." + suffix
}

func newNodes(t testing.TB, h Harness, n int) []*Node {
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = NewNode(t, h.NewBroker(t))
	}
	return nodes
}

// testExactlyOnce: three nodes, two members of a room on each and one
// member of another room. Every member gets a broadcast exactly once, the
// other room none; except-sender and broadcast-to-all work across nodes.
func testExactlyOnce(t *testing.T, h Harness) {
	nodes := newNodes(t, h, 3)
	room, other := roomName(t, "r"), roomName(t, "other")
	var peers, outsiders []*Peer
	var users []string
	for i, n := range nodes {
		for j := range 2 {
			u := fmt.Sprintf("n%d-u%d", i, j)
			users = append(users, u)
			peers = append(peers, n.Join(t, room, u))
		}
		outsiders = append(outsiders, n.Join(t, other, fmt.Sprintf("n%d-x", i)))
	}
	WaitMembers(t, room, users, nodes...)
	WaitMembers(t, other, []string{"n0-x", "n1-x", "n2-x"}, nodes...)

	// From each node in turn: everyone in the room gets each message once,
	// then the end marker (nothing duplicated in between).
	for i, from := range []*Peer{peers[0], peers[2], peers[4]} {
		from.Send(fmt.Sprintf("say:hello-%d", i))
		from.Send(fmt.Sprintf("say:end-%d", i))
		for _, p := range peers {
			p.Expect(fmt.Sprintf("hello-%d", i), fmt.Sprintf("end-%d", i))
		}
	}
	// The other room got nothing: its first message is its own marker.
	outsiders[1].Send("say:mark")
	for _, p := range outsiders {
		p.Expect("mark")
	}

	// Except-sender across nodes: peers[2] (node 1) is left out.
	peers[2].Send("others:not-you")
	peers[2].Send("say:end-others")
	for i, p := range peers {
		if i != 2 {
			p.Expect("not-you")
		}
		p.Expect("end-others")
	}

	// To all, from node 2: every connection of every node.
	peers[4].Send("all:everyone")
	for _, p := range append(slices.Clone(peers), outsiders...) {
		p.Expect("everyone")
	}
}

// testLargeBroadcast: a broadcast of 1.5 MiB, over NATS's default limit
// of 1 MiB per message and under MaxMessageBytes (2 MiB), reaches the
// members of both nodes whole, in order with the small ones around it.
func testLargeBroadcast(t *testing.T, h Harness) {
	nodes := newNodes(t, h, 2)
	room := roomName(t, "r")
	peers := []*Peer{nodes[0].Join(t, room, "a"), nodes[1].Join(t, room, "b")}
	WaitMembers(t, room, []string{"a", "b"}, nodes...)
	big := make([]byte, 1536<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for _, m := range []string{"before", string(big), "after"} {
		if err := nodes[0].Hub().Broadcast(ctx, room, framework.Text(m)); err != nil {
			t.Fatalf("brokertest: Broadcast of %d bytes: %v", len(m), err)
		}
	}
	for i, p := range peers {
		p.Expect("before")
		if got := p.Next(); got != string(big) {
			t.Fatalf("brokertest: node %d: got %d bytes, want the %d-byte broadcast", i, len(got), len(big))
		}
		p.Expect("after")
	}
	if err := nodes[0].Hub().Err(); err != nil {
		t.Errorf("brokertest: Hub.Err of the sender: %v", err)
	}
}

// testPresence: members agree across nodes, events are reported on the
// others, a node that starts late learns the members, a node that goes
// silent disappears and comes back.
func testPresence(t *testing.T, h Harness) {
	room := roomName(t, "r")
	a := NewNode(t, h.NewBroker(t))
	cut := &CutBroker{Broker: h.NewBroker(t)}
	b := NewNode(t, cut)

	var mu sync.Mutex
	var events []string
	cancel := a.Hub().Watch(func(ev framework.PresenceEvent) {
		if ev.Room != room {
			return
		}
		mu.Lock()
		events = append(events, presenceKind(ev)+" "+ev.Member.User)
		mu.Unlock()
	})
	defer cancel()
	sawEvent := func(want string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(events, want)
		}
	}

	a.Join(t, room, "alice")
	bob := b.Join(t, room, "bob")
	b.Join(t, room, "bea")
	WaitMembers(t, room, []string{"alice", "bea", "bob"}, a, b)
	Eventually(t, 5*time.Second, "join event of bob on node a", sawEvent("join bob"))

	late := NewNode(t, h.NewBroker(t))
	WaitMembers(t, room, []string{"alice", "bea", "bob"}, a, b, late)

	bob.Close()
	WaitMembers(t, room, []string{"alice", "bea"}, a, b, late)
	Eventually(t, 5*time.Second, "leave event of bob on node a", sawEvent("leave (left) bob"))

	// Node b goes silent (as if it died): the others forget its members
	// after 2.5 presence intervals, and learn them again when it is back.
	cut.Cut.Store(true)
	WaitMembers(t, room, []string{"alice"}, a, late)
	Eventually(t, 5*time.Second, "leave event of bea on node a", sawEvent("leave (node lost) bea"))
	cut.Cut.Store(false)
	WaitMembers(t, room, []string{"alice", "bea"}, a, b, late)
}

// CutBroker wraps a Broker and cuts its node off while Cut is set: its
// publishes fail and nothing is delivered to it, as when a node loses its
// broker connection or looks dead to the others.
type CutBroker struct {
	framework.Broker
	Cut atomic.Bool
}

// Publish publishes p, or fails while Cut is set.
func (c *CutBroker) Publish(ctx context.Context, topic string, p []byte) error {
	if c.Cut.Load() {
		return fmt.Errorf("brokertest: cut off")
	}
	return c.Broker.Publish(ctx, topic, p)
}

// Subscribe subscribes fn, which gets nothing while Cut is set.
func (c *CutBroker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (framework.Subscription, error) {
	return c.Broker.Subscribe(ctx, topic, func(p []byte) {
		if !c.Cut.Load() {
			fn(p)
		}
	})
}

// testDisconnect: a user's connections and a room's members are closed on
// every node.
func testDisconnect(t *testing.T, h Harness) {
	nodes := newNodes(t, h, 2)
	room, other := roomName(t, "r"), roomName(t, "other")
	carol0 := nodes[0].Join(t, room, "carol")
	carol1 := nodes[1].Join(t, other, "carol")
	dave := nodes[1].Join(t, room, "dave")
	erin := nodes[0].Join(t, other, "erin")
	WaitMembers(t, room, []string{"carol", "dave"}, nodes...)
	WaitMembers(t, other, []string{"carol", "erin"}, nodes...)

	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := nodes[1].Hub().DisconnectUser(ctx, "carol", 4001, "banned"); err != nil {
		t.Fatalf("DisconnectUser: %v", err)
	}
	carol0.ExpectClose(4001)
	carol1.ExpectClose(4001)
	if err := nodes[0].Hub().DisconnectRoom(ctx, other, 4002, "room closed"); err != nil {
		t.Fatalf("DisconnectRoom: %v", err)
	}
	erin.ExpectClose(4002)
	dave.Send("say:still-here")
	dave.Expect("still-here")
	WaitMembers(t, room, []string{"dave"}, nodes...)
	WaitMembers(t, other, nil, nodes...)
}

// testPublisher: a process without WebSocket broadcasts to a room.
func testPublisher(t *testing.T, h Harness) {
	nodes := newNodes(t, h, 2)
	room := roomName(t, "r")
	p0 := nodes[0].Join(t, room, "a")
	p1 := nodes[1].Join(t, room, "b")
	WaitMembers(t, room, []string{"a", "b"}, nodes...)
	pub := framework.NewHub(framework.HubOptions{Broker: h.NewBroker(t)})
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := pub.Broadcast(ctx, room, framework.Text("from a worker")); err != nil {
		t.Fatalf("NewHub(...).Broadcast: %v", err)
	}
	if err := pub.BroadcastAll(ctx, framework.Text("to all")); err != nil {
		t.Fatalf("Publisher.BroadcastAll: %v", err)
	}
	p0.Expect("from a worker", "to all")
	p1.Expect("from a worker", "to all")
	if err := pub.DisconnectRoom(ctx, room, 4003, "bye"); err != nil {
		t.Fatalf("Publisher.DisconnectRoom: %v", err)
	}
	p0.ExpectClose(4003)
	p1.ExpectClose(4003)
}

// testOutage: with the broker down, local delivery goes on and the outage
// is reported; once it is back, cross-node delivery resumes.
func testOutage(t *testing.T, h Harness) {
	nodes := newNodes(t, h, 2)
	room := roomName(t, "r")
	a := nodes[0].Join(t, room, "a")
	a2 := nodes[0].Join(t, room, "a2")
	b := nodes[1].Join(t, room, "b")
	WaitMembers(t, room, []string{"a", "a2", "b"}, nodes...)
	a.Send("say:before")
	for _, p := range []*Peer{a, a2, b} {
		p.Expect("before")
	}

	h.Stop(t)
	for i := range 20 {
		a.Send(fmt.Sprintf("say:local-%d", i))
	}
	for i := range 20 {
		a.Expect(fmt.Sprintf("local-%d", i))
		a2.Expect(fmt.Sprintf("local-%d", i))
	}
	Eventually(t, 10*time.Second, "node a reports the broker outage", func() bool { return nodes[0].Hub().Err() != nil })

	h.Start(t)
	// Resume: probe until node b's member hears from node a.
	resumed := false
	for i := 0; !resumed; i++ {
		if i == 300 {
			t.Fatalf("brokertest: cross-node delivery did not resume within %d probes", i)
		}
		a.Send(fmt.Sprintf("say:probe-%d", i))
		for {
			m, ok := b.Poll(50 * time.Millisecond)
			if !ok {
				break
			}
			if strings.HasPrefix(m, "probe-") {
				resumed = true
			}
		}
	}
	Eventually(t, 10*time.Second, "node a reports the broker back", func() bool { return nodes[0].Hub().Err() == nil })
	a.Send("say:after")
	drain := func(p *Peer) {
		for {
			m := p.Next()
			if m == "after" {
				return
			}
			if !strings.HasPrefix(m, "probe-") && !strings.HasPrefix(m, "local-") {
				t.Fatalf("brokertest: got %q, want probes then \"after\"", m)
			}
		}
	}
	drain(b)
	drain(a)
	b.Send("say:from-b")
	a.Expect("from-b")
	b.Expect("from-b")
	WaitMembers(t, room, []string{"a", "a2", "b"}, nodes...)
}

// presenceKind names a presence event's kind, "join" or "leave (reason)".
func presenceKind(ev framework.PresenceEvent) string {
	if ev.Joined {
		return "join"
	}
	return "leave (" + string(ev.Reason) + ")"
}
