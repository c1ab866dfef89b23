package client_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/cutproxy"
	"github.com/nowebsocket/nows/internal/wire"
)

// The recovery property test (issue 15): 50 clients, each behind a proxy
// of its own, are cut at random times and come back on either of two
// nodes that share one memory store (one of which restarts once), while
// 5 publishers send numbered messages to two rooms. The seed fixes the plan (who is cut when, on
// which node each comes back, who stays away, which room each message
// goes to); the scheduling is the machine's.

var (
	propSeed     = flag.Uint64("recovery.seed", 0, "seed of TestRecoveryProperty (0: from the clock)")
	propDuration = flag.Duration("recovery.duration", 6*time.Second, "how long TestRecoveryProperty cuts clients")
)

const (
	propMembers = 50 // clients in both rooms
	propHubPubs = 3  // Publishers (NewHub with the store)
	propCliPubs = 2  // clients that send through a node ("shout"), in no room
	propAway    = 4  // members kept away until the window has moved past them
	propEvery   = 80 * time.Millisecond
	propMargin  = 20 // messages of a room beyond what the window needs, in an absence
)

// Room "a" has a window by count, room "b" one by age: a member away long
// enough loses messages of both, one kept by the count, the other by the
// TTL. A member cut for a moment misses a few messages and recovers them.
var propRooms = map[string]history.Limits{
	"a": {Size: 50, TTL: time.Hour},
	"b": {Size: 1 << 20, TTL: 2 * time.Second},
}

// propRoomNames are propRooms' names, in a fixed order.
var propRoomNames = []string{"a", "b"}

// ledger is the nodes' store: the memory store, recording every entry it
// took, so that the check knows each room's order (the offsets).
type ledger struct {
	history.Store
	mu      sync.Mutex
	entries map[string]map[uint64]history.Entry // room, offset
	top     map[string]uint64
}

func newLedger() *ledger {
	return &ledger{Store: history.NewMemory(), entries: map[string]map[uint64]history.Entry{}, top: map[string]uint64{}}
}

// Append records what the store took.
func (l *ledger) Append(ctx context.Context, room string, m history.Entry, lim history.Limits) (history.Entry, error) {
	e, err := l.Store.Append(ctx, room, m, lim)
	if err != nil {
		return e, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries[room] == nil {
		l.entries[room] = map[uint64]history.Entry{}
	}
	l.entries[room][e.Pos.Offset] = e
	l.top[room] = max(l.top[room], e.Pos.Offset)
	return e, nil
}

// mark is where the rooms were when a member went away.
type mark map[string]uint64

func (l *ledger) mark() mark {
	l.mu.Lock()
	defer l.mu.Unlock()
	return mark{"a": l.top["a"], "b": l.top["b"]}
}

// movedPast reports whether a member that got nothing after m cannot
// recover either room: room "a" took more than its Size since, and the
// first messages of room "b" after m are older than its TTL. The margin
// covers a connection the proxy let through just after m (it may have
// recovered a few).
func (l *ledger) movedPast(m mark) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.top["a"] < m["a"]+uint64(propRooms["a"].Size+propMargin) {
		return false
	}
	e, ok := l.entries["b"][m["b"]+propMargin]
	return ok && time.Since(e.Time) > propRooms["b"].TTL+100*time.Millisecond
}

// roomView is the store's record of one room, for the checks.
type roomView struct {
	name    string
	texts   []string    // by offset, from 1
	times   []time.Time // when the store took each
	offsets map[string]uint64
	end     uint64 // the offset of its last message, the last endText
}

// view returns room's record, ended by its last-th endText, checking that
// its offsets have no hole and one epoch.
func (l *ledger) view(t *testing.T, room string, last int) roomView {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := roomView{name: room, texts: make([]string, l.top[room]+1), times: make([]time.Time, l.top[room]+1), offsets: map[string]uint64{}}
	epoch := l.entries[room][1].Pos.Epoch
	for off := uint64(1); off <= l.top[room]; off++ {
		e, ok := l.entries[room][off]
		if !ok || e.Pos.Epoch != epoch {
			t.Fatalf("room %s: the store's offset %d is missing or of another epoch", room, off)
		}
		v.texts[off], v.times[off] = saidText(t, e.Data), e.Time
		if _, dup := v.offsets[v.texts[off]]; dup {
			t.Errorf("room %s: %q stored twice (a publisher sent it twice)", room, v.texts[off])
		}
		v.offsets[v.texts[off]] = off
	}
	v.end = v.offsets[endText(room, last)]
	return v
}

// top is the room's last offset.
func (v roomView) top() uint64 { return uint64(len(v.texts) - 1) }

// saidText is the text of a stored "said" event.
func saidText(t *testing.T, data []byte) string {
	env, err := wire.Decode(data)
	var s string
	if err == nil {
		err = json.Unmarshal(env.Data, &s)
	}
	if err != nil || env.Event != "said" {
		t.Fatalf("stored %s: %v", data, err)
	}
	return s
}

// seen is one thing a member's handlers were told, in their order.
type seen struct {
	text  string           // a message: "room|publisher|seq"
	recov *client.Recovery // or a recovery
	at    time.Time        // when the handler ran
}

// peer is one client of the test behind its proxy.
type peer struct {
	c  *client.Client
	px *cutproxy.Proxy

	mu    sync.Mutex
	seen  []seen
	state client.State
}

// newPeer makes a client whose connections go through a proxy of its own
// to node, recording what its handlers are told.
func newPeer(t *testing.T, node string) *peer {
	p := &peer{px: cutproxy.Start(t, node), state: client.Disconnected}
	p.c = client.New("ws://"+p.px.Addr()+"/ev", fast())
	t.Cleanup(func() { p.c.Close() })
	p.c.On("said", func(data json.RawMessage) {
		var s string
		_ = json.Unmarshal(data, &s)
		p.add(seen{text: s})
	})
	p.c.OnRecovery(func(r client.Recovery) { p.add(seen{recov: &r}) })
	p.c.OnState(func(s client.State, _ error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.state = s
	})
	return p
}

func (p *peer) add(s seen) {
	s.at = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, s)
}

func (p *peer) log() []seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *peer) connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == client.Connected
}

// has reports whether the member's handlers got text.
func (p *peer) has(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.seen, func(s seen) bool { return s.text == text })
}

// action is one step of the plan: cut the connections of some peers,
// which come back on node; or keep one member away until the rooms'
// windows have moved past it; or restart node (its members come back
// on it once it is up, or elsewhere when cut meanwhile).
type action struct {
	at      time.Duration
	who     []int
	node    int
	away    bool
	restart bool
}

// plan draws the cuts of d: one peer every 5 to 50 ms, sometimes 8 at
// once (a node's network failing), propAway members going away once, and
// one restart of a node.
func plan(rng *rand.Rand, d time.Duration, peers int) []action {
	var acts []action
	for at := time.Duration(0); at < d; at += 5*time.Millisecond + time.Duration(rng.Int64N(int64(45*time.Millisecond))) {
		n := 1
		if rng.IntN(20) == 0 {
			n = 8
		}
		acts = append(acts, action{at: at, who: rng.Perm(peers)[:n], node: rng.IntN(2)})
	}
	for _, m := range rng.Perm(propMembers)[:propAway] {
		at := 200*time.Millisecond + time.Duration(rng.Int64N(int64(max(d-time.Second, time.Millisecond))))
		acts = append(acts, action{at: at, who: []int{m}, node: rng.IntN(2), away: true})
	}
	restart := time.Second + time.Duration(rng.Int64N(int64(max(d-2*time.Second, time.Millisecond))))
	acts = append(acts, action{at: restart, node: rng.IntN(2), restart: true})
	slices.SortStableFunc(acts, func(x, y action) int { return cmp.Compare(x.at, y.at) })
	return acts
}

// cluster is the test's world: two nodes on one store, the peers (the
// members, then the client publishers) and the Publishers.
type cluster struct {
	t     *testing.T
	w     *world
	store *ledger
	nodes [2]string
	srvs  [2]*server // the nodes, restarted on their address
	peers []*peer
	hubs  []*framework.Hub
	dead  string // an address that refuses connections: a member away
	sent  []int  // messages each publisher sent (hubs, then clients)
}

func newCluster(t *testing.T, rng *rand.Rand) *cluster {
	w := newWorld()
	cl := &cluster{t: t, w: w, store: newLedger(), dead: refusing(t), sent: make([]int, propHubPubs+propCliPubs)}
	w.mu.Lock()
	w.history = history.Config{Store: cl.store, Rooms: propRooms}
	w.mu.Unlock()
	for i := range cl.nodes {
		cl.srvs[i] = startServer(t, w, "127.0.0.1:0")
		cl.nodes[i] = cl.srvs[i].addr
	}
	for i := range propMembers + propCliPubs {
		p := newPeer(t, cl.nodes[rng.IntN(2)])
		if err := p.c.Connect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if i >= propMembers {
			cl.peers = append(cl.peers, p) // a client publisher: in no room
			continue
		}
		for _, room := range propRoomNames {
			if err := p.c.Join(testCtx(t), room); err != nil {
				t.Fatal(err)
			}
		}
		cl.peers = append(cl.peers, p)
	}
	for range propHubPubs {
		hub := framework.NewHub(framework.HubOptions{History: w.historyConfig()})
		t.Cleanup(func() { hub.Close() })
		cl.hubs = append(cl.hubs, hub)
	}
	return cl
}

// refusing returns a 127.0.0.1 address nothing listens on.
func refusing(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// publish starts the publishers, which send until stop; the function it
// returns waits for them. A Publisher's Broadcast must not fail; a
// client's Emit may (the connection dropped while it wrote, or its buffer
// is full while it reconnects): that message is sent at most once, and
// the store's record says whether it was.
func (cl *cluster) publish(seed uint64, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for i := range cl.sent {
		send := func(room, text string) error {
			if i < propHubPubs {
				return events.Broadcast(context.Background(), cl.hubs[i], room, "said", text)
			}
			err := cl.peers[propMembers+i-propHubPubs].c.Emit(context.Background(), "shout", roomText{Room: room, Text: text})
			if errors.Is(err, client.ErrDisconnected) || errors.Is(err, client.ErrBufferFull) {
				err = nil
			}
			return err
		}
		rng := rand.New(rand.NewPCG(seed, uint64(1+i)))
		wg.Go(func() { cl.sent[i] = cl.publisher(pubName(i), rng, send, stop) })
	}
	return wg.Wait
}

// pubName names publisher i: "h0".. for Publishers, "c0".. for clients.
func pubName(i int) string {
	if i < propHubPubs {
		return fmt.Sprintf("h%d", i)
	}
	return fmt.Sprintf("c%d", i-propHubPubs)
}

// publisher sends "room|name|seq", seq from 1, to a room drawn by rng,
// one every propEvery until stop, and returns the last seq sent.
func (cl *cluster) publisher(name string, rng *rand.Rand, send func(room, text string) error, stop <-chan struct{}) int {
	tick := time.NewTicker(propEvery)
	defer tick.Stop()
	for seq := 1; ; seq++ {
		room := "a"
		if rng.IntN(2) == 1 {
			room = "b"
		}
		if err := send(room, fmt.Sprintf("%s|%s|%d", room, name, seq)); err != nil {
			cl.t.Errorf("publisher %s, message %d: %v", name, seq, err)
			return seq - 1
		}
		select {
		case <-stop:
			return seq
		case <-tick.C:
		}
	}
}

// absence is a member kept away: its proxy refuses until the rooms have
// moved past from.
type absence struct {
	from  mark
	since time.Time
	node  int // where it comes back
}

const maxAway = 15 * time.Second // bounds an absence if the publishers stall

// drive runs the plan, every 10 ms taking the actions due, and cutting
// again the members away (a connection the proxy was accepting when it
// went away gets through); it returns once the plan is done and every
// member is back, with the number of connections cut.
func (cl *cluster) drive(acts []action) (cuts int) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	away := map[int]absence{}
	for i := 0; i < len(acts) || len(away) > 0; {
		<-tick.C
		for ; i < len(acts) && acts[i].at <= time.Since(start); i++ {
			cuts += cl.do(acts[i], away)
		}
		for who, a := range away {
			px := cl.peers[who].px
			cuts += px.Cut()
			back := cl.store.movedPast(a.from)
			if !back && time.Since(a.since) > maxAway {
				cl.t.Logf("member %d back after %v: the rooms did not move past it", who, maxAway)
				back = true
			}
			if back {
				px.SetTarget(cl.nodes[a.node])
				delete(away, who)
			}
		}
	}
	return cuts
}

// do takes one action; a peer away is left so.
func (cl *cluster) do(a action, away map[int]absence) (cuts int) {
	if a.restart {
		start := time.Now()
		cl.srvs[a.node].stop()
		cl.srvs[a.node] = startServer(cl.t, cl.w, cl.nodes[a.node])
		cl.t.Logf("node %d restarted at %v, down %v", a.node, a.at.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		return 0
	}
	for _, who := range a.who {
		if _, ok := away[who]; ok {
			continue
		}
		px := cl.peers[who].px
		if !a.away {
			px.SetTarget(cl.nodes[a.node])
			cuts += px.Cut()
			continue
		}
		px.SetTarget(cl.dead)
		cuts += px.Cut()
		away[who] = absence{from: cl.store.mark(), since: time.Now(), node: a.node}
	}
	return cuts
}

// settle waits for every peer to be connected and for the client
// publishers' messages to be handled (a request answered after them),
// then ends each room with "room|end|k", k from 1, until every member
// got the last: a member that came back after an end had left room b's
// TTL (and was told so) gets the next one live. It returns the last k.
func (cl *cluster) settle() (last int) {
	t := cl.t
	within(t, 30*time.Second, "every client connected", func() bool {
		return !slices.ContainsFunc(cl.peers, func(p *peer) bool { return !p.connected() })
	})
	for _, p := range cl.peers[propMembers:] {
		if err := p.c.Request(testCtx(t), "echo", 1, nil); err != nil {
			t.Fatalf("a client publisher: %v", err)
		}
	}
	for k := 1; ; k++ {
		for _, room := range propRoomNames {
			if err := events.Broadcast(testCtx(t), cl.hubs[0], room, "said", endText(room, k)); err != nil {
				t.Fatal(err)
			}
		}
		late := cl.late(k, 5*time.Second)
		if len(late) == 0 {
			return k
		}
		if k == 6 {
			for _, p := range late {
				log := p.log()
				t.Logf("a member without the last messages, connected %v, %d things told, the last: %+v", p.connected(), len(log), log[max(0, len(log)-4):])
			}
			t.Fatalf("%d members did not get the rooms' last messages", len(late))
		}
	}
}

// endText is the k-th last message of room.
func endText(room string, k int) string { return fmt.Sprintf("%s|end|%d", room, k) }

// late waits up to d for every member to get the rooms' k-th last
// messages, and returns those that did not.
func (cl *cluster) late(k int, d time.Duration) []*peer {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		late := slices.DeleteFunc(slices.Clone(cl.peers[:propMembers]), func(p *peer) bool {
			return p.has(endText("a", k)) && p.has(endText("b", k))
		})
		if len(late) == 0 || time.Now().After(deadline) {
			return late
		}
	}
}

// within polls cond for up to d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tally is what the members were told, for the log and the checks.
type tally struct {
	losses, recovered int
	lostBy            map[int]map[string]int // member, room: losses
	reasons           map[string]int         // "room reason": losses
	lags              []time.Duration        // from the store to a handler, each message
}

// checkMember checks what member who was told of room against the store's
// order: its messages come in that order, each once; one that does not
// follow the one before (a hole) comes only after a loss was reported
// (a Recovery not recovered, with a reason); and every loss reported is
// real: the message after the last one the member got is in the store
// and never comes. (Its position at the rejoin is that last message's:
// handlers run in the order the messages were read.) Only the first
// join has nothing to recover from. The room's last message must come.
func checkMember(t *testing.T, who int, v roomView, log []seen, n *tally) {
	room := v.name
	var last uint64
	joined, lost := false, false
	fail := func(format string, args ...any) {
		t.Errorf("member %d, room %s: %s", who, room, fmt.Sprintf(format, args...))
	}
	for _, s := range log {
		switch {
		case s.recov != nil && s.recov.Room == room:
			r := *s.recov
			switch {
			case !joined:
				joined = true
				if r != (client.Recovery{Room: room}) {
					fail("first join told %+v", r)
				}
			case r.Recovered:
				n.recovered++
			case r.Reason == "":
				fail("a rejoin told it had no position (after offset %d)", last)
			default:
				n.losses++
				n.lostBy[who][room]++
				n.reasons[room+" "+string(r.Reason)]++
				lost = true
				if last >= v.top() {
					fail("a loss (%s) reported, and the store has nothing after its last message, %d", r.Reason, last)
				}
			}
		case s.recov == nil && strings.HasPrefix(s.text, room+"|"):
			off, ok := v.offsets[s.text]
			switch {
			case !ok:
				fail("got %q, which the store never took", s.text)
			case off <= last:
				fail("got offset %d (%q) after %d: a duplicate or out of order", off, s.text, last)
			case off > last+1 && !lost:
				fail("got offset %d (%q) after %d with no loss reported", off, s.text, last)
			case off == last+1 && lost:
				fail("a loss was reported, then the next message came (offset %d): not a loss", off)
			}
			if ok {
				n.lags = append(n.lags, s.at.Sub(v.times[off]))
			}
			last, lost = max(last, off), false
		}
	}
	if last < v.end {
		fail("its last message is offset %d, the room's last %d", last, v.end)
	}
}

// checkPublishers checks the store's record of each publisher: a
// Publisher's messages are all there, 1..sent, each once, each room's in
// order; a client's (sent at most once) at most once.
func checkPublishers(t *testing.T, texts map[string][]string, sent []int) {
	seqs := make(map[string][]int) // publisher: seqs stored
	for room, ts := range texts {
		prev := map[string]int{}
		for _, text := range ts[1:] {
			f := strings.Split(text, "|")
			if len(f) != 3 {
				t.Fatalf("room %s: stored %q", room, text)
			}
			seq, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("room %s: stored %q", room, text)
			}
			if strings.HasPrefix(f[1], "h") && seq <= prev[f[1]] {
				t.Errorf("room %s: publisher %s's %d stored after its %d", room, f[1], seq, prev[f[1]])
			}
			prev[f[1]] = seq
			seqs[f[1]] = append(seqs[f[1]], seq)
		}
	}
	for i, n := range sent {
		got := seqs[pubName(i)]
		slices.Sort(got)
		if len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("publisher %s: a message stored twice", pubName(i))
		}
		if i < propHubPubs && (len(got) != n || n > 0 && got[n-1] != n) {
			t.Errorf("publisher %s sent 1..%d, the store has %d of them", pubName(i), n, len(got))
		}
	}
}

// TestRecoveryProperty: members cut at random, and some kept away past
// the rooms' windows, get each room's messages in the store's order,
// each once, with a hole only where they were told of a loss, and every
// loss they were told of is real.
func TestRecoveryProperty(t *testing.T) {
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: -recovery.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	cl := newCluster(t, rng)
	acts := plan(rng, *propDuration, len(cl.peers))
	stop := make(chan struct{})
	wait := cl.publish(seed, stop)
	start := time.Now()
	cuts := cl.drive(acts)
	close(stop)
	wait()
	t.Logf("%d connections cut in %v; publishers sent %v", cuts, time.Since(start).Round(time.Millisecond), cl.sent)
	cl.check(acts, cl.settle())
}

// check checks the store's record, then every member's rooms up to the
// last-th end, and that each member kept away was told of a loss in
// each room.
func (cl *cluster) check(acts []action, last int) {
	t := cl.t
	n := &tally{lostBy: map[int]map[string]int{}, reasons: map[string]int{}}
	for who := range propMembers {
		n.lostBy[who] = map[string]int{}
	}
	texts := map[string][]string{}
	for _, room := range propRoomNames {
		v := cl.store.view(t, room, last)
		texts[room] = v.texts
		for who, p := range cl.peers[:propMembers] {
			checkMember(t, who, v, p.log(), n)
		}
		t.Logf("room %s: %d messages, the last its end number %d (%d after it: a client publisher's, handled late by a node)", room, v.end, last, v.top()-v.end)
	}
	checkPublishers(t, texts, cl.sent)
	for _, a := range acts {
		if a.away && (n.lostBy[a.who[0]]["a"] == 0 || n.lostBy[a.who[0]]["b"] == 0) {
			t.Errorf("member %d, kept away past the windows, was told of losses %v", a.who[0], n.lostBy[a.who[0]])
		}
	}
	if len(n.lags) == 0 {
		t.Fatal("the members got no message")
	}
	slices.Sort(n.lags)
	q := func(f float64) time.Duration { return n.lags[int(f*float64(len(n.lags)-1))].Round(time.Millisecond) }
	t.Logf("members got %d messages (from the store to the handler: median %v, p99 %v, max %v); told of %d rejoins recovered, %d losses %v",
		len(n.lags), q(0.5), q(0.99), q(1), n.recovered, n.losses, n.reasons)
}
