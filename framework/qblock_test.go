package framework_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/wstest"
)

// These tests cover QueueBlock with broadcasts from the broker (queue.go,
// park): they never block the receiving node's subscription, are lossless
// and in order while the client catches up within BlockTimeout, and close
// it with 1013 when it does not.

// blockQueue is the send queue of the nodes of these tests.
func blockQueue(timeout time.Duration) framework.QueueOptions {
	return framework.QueueOptions{MaxMessages: 4, Policy: framework.QueueBlock, BlockTimeout: timeout}
}

// blockNodes starts two servers sharing a MemoryBroker, with QueueBlock
// send queues, serving the probe routes and brokertest.Rooms.
func blockNodes(t *testing.T, timeout time.Duration) (n1, n2 *wstest.Server) {
	t.Helper()
	return blockNodesObserved(t, timeout, nil)
}

// blockNodesObserved is blockNodes with obs as node 2's Observer.
func blockNodesObserved(t *testing.T, timeout time.Duration, obs framework.Observer) (n1, n2 *wstest.Server) {
	t.Helper()
	mb := framework.NewMemoryBroker()
	opts := framework.Options{
		Hub:       framework.HubOptions{Broker: mb, PresenceInterval: brokertest.PresenceInterval},
		SendQueue: blockQueue(timeout),
	}
	n1 = serve(t, opts, brokertest.Rooms)
	opts.Observer = obs
	return n1, serve(t, opts, brokertest.Rooms)
}

// overflowSlow broadcasts 16 KiB messages from hub to room until slow, a
// member that does not read, is closed for overflow (QueueBlock's
// timeout), pausing now and then so that the broker delivers.
func overflowSlow(t *testing.T, hub *framework.Hub, room string, slow *framework.Conn, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := strings.Repeat("x", 16<<10)
	for sent := 0; slow.Connected(); sent++ {
		if sent == 4000 {
			t.Fatalf("the slow client is still open after %d broadcasts (stats %+v)", sent, framework.QueueStats(slow))
		}
		if err := hub.Broadcast(ctx, room, framework.Text(strconv.Itoa(sent)+" "+payload)); err != nil {
			t.Fatal(err)
		}
		if sent%50 == 49 {
			time.Sleep(timeout / 10) // let the broker deliver and the timer run
		}
	}
}

// expectClose1013 reads what slow still gets, then its close: 1013.
func expectClose1013(t *testing.T, slow *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	for {
		_, _, err := slow.Read(ctx)
		if err == nil {
			continue
		}
		if code := websocket.CloseStatus(err); code != websocket.StatusTryAgainLater {
			t.Fatalf("slow client: got %v, want close 1013", err)
		}
		return
	}
}

// waitMember waits until hub sees a member of room with user.
// remoteMember opens a member of batchRoom on n2 and waits until n1 sees
// it, and returns its probe, its client and its connection.
func remoteMember(t *testing.T, n1, n2 *wstest.Server) (*probe, *rawConn, *framework.Conn) {
	t.Helper()
	p := newProbe(t)
	joinOnOpen(p)
	client := dialRaw(t, n2.Addr, p.path("/probe"))
	t.Cleanup(func() { client.nc.Close() })
	c := p.waitJoined(t)
	eventually(t, "the member seen from node 1", func() bool { return len(n1.Hub().Members(batchRoom)) == 1 })
	return p, client, c
}

// holdBehindFirst holds c's queue writer (holdWriter) with the broadcast
// "first" from hub taken, so that what follows piles up in the queue, and
// returns the release of the hold.
func holdBehindFirst(t *testing.T, ctx context.Context, hub *framework.Hub, c *framework.Conn) (release func()) {
	t.Helper()
	release = holdWriter(t, c)
	if err := hub.Broadcast(ctx, batchRoom, framework.Text("first")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first taken by the writer", func() bool {
		qs := framework.QueueStats(c)
		return qs.Queued == 1 && qs.Pending == 0
	})
	return release
}

func waitMember(t *testing.T, hub *framework.Hub, room, user string) {
	t.Helper()
	eventually(t, user+" in "+room, func() bool {
		for _, m := range hub.Members(room) {
			if m.User == user {
				return true
			}
		}
		return false
	})
}

// localConn returns the connection of user in room on hub's node.
func localConn(t *testing.T, hub *framework.Hub, room, user string) *framework.Conn {
	t.Helper()
	for _, c := range hub.LocalMembers(room) {
		if c.User() == user {
			return c
		}
	}
	t.Fatalf("%s is not in room %s", user, room)
	return nil
}

// TestQueueBlockBrokerNotBlocked: a member of room A on node 2 stops
// reading; the broadcasts of node 1 to room A fill its QueueBlock queue,
// and those to room B keep reaching room B's member on node 2 all the
// while. When the slow client reads again, it gets every broadcast to A,
// in order.
func TestQueueBlockBrokerNotBlocked(t *testing.T) {
	t.Parallel()
	// Far longer than a Peer waits for a message: a node that waited for
	// the slow client would fail the test.
	n1, n2 := blockNodes(t, 4*brokertest.Timeout)
	slow := dialSlow(t, n2.URL("/rooms/A?user=slow"))
	other := brokertest.Dial(t, n2.URL("/rooms/B?user=other"))
	waitMember(t, n1.Hub(), "A", "slow")
	waitMember(t, n1.Hub(), "B", "other")
	slowConn := localConn(t, n2.Hub(), "A", "slow")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	payload := strings.Repeat("x", 16<<10)
	sent, extra := 0, 20
	for ; extra > 0; sent++ {
		if sent == 4000 {
			t.Fatalf("the slow client's queue never filled (stats %+v)", framework.QueueStats(slowConn))
		}
		if err := n1.Hub().Broadcast(ctx, "A", framework.Text(strconv.Itoa(sent)+" "+payload)); err != nil {
			t.Fatal(err)
		}
		if err := n1.Hub().Broadcast(ctx, "B", framework.Text("b"+strconv.Itoa(sent))); err != nil {
			t.Fatal(err)
		}
		other.Expect("b" + strconv.Itoa(sent))
		if framework.QueueStats(slowConn).Pending >= 4 {
			extra-- // the queue is full: 20 more broadcasts after that
		}
	}
	if !slowConn.Connected() {
		t.Fatalf("the slow client was closed (stats %+v)", framework.QueueStats(slowConn))
	}
	t.Logf("%d broadcasts to A; slow client's queue %+v", sent, framework.QueueStats(slowConn))

	// The slow client reads again: every broadcast, in order.
	rctx, rcancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer rcancel()
	for i := range sent {
		_, b, err := slow.Read(rctx)
		if err != nil {
			t.Fatalf("slow client, message %d: %v", i, err)
		}
		if n, _, _ := strings.Cut(string(b), " "); n != strconv.Itoa(i) {
			t.Fatalf("slow client: got message %.10q, want number %d", b, i)
		}
	}
	if qs := framework.QueueStats(slowConn); qs.Dropped != 0 || !slowConn.Connected() {
		t.Errorf("slow client: stats %+v, connected %v: want none dropped, connected", qs, slowConn.Connected())
	}
}

// TestQueueBlockBrokerOrder: broker deliveries to a member whose queue is
// full wait in order, with the direct sends made after them and a local
// broadcast made last, and all of them reach the client in that order once
// its writer moves again; nothing is dropped and no goroutine is left.
func TestQueueBlockBrokerOrder(t *testing.T) {
	n1, n2 := blockNodes(t, 4*rawTimeout)
	p, client, c := remoteMember(t, n1, n2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer cancel()
	base := runtime.NumGoroutine()

	release := holdBehindFirst(t, ctx, n1.Hub(), c)
	var want []string
	direct := make(chan error, 3)
	for i := range 15 {
		s := "b" + strconv.Itoa(i)
		if err := n1.Hub().Broadcast(ctx, batchRoom, framework.Text(s)); err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
		waitPending(t, c, len(want)) // the broker delivered it (node 1's Broadcast does not wait for that)
		if i%5 == 4 {
			// A direct send waits behind the broadcasts delivered before it,
			// queued or parked.
			s := "d" + strconv.Itoa(i)
			go func() { direct <- c.SendText(ctx, s) }()
			want = append(want, s)
			waitPending(t, c, len(want))
		}
	}
	// A broadcast of node 2 waits until the parked ones are in the queue
	// and there is room after them.
	local := make(chan error, 1)
	go func() { local <- n2.Hub().Broadcast(ctx, batchRoom, framework.Text("local")) }()
	want = append(want, "local")

	release()
	client.expectMessage(opText, holdMessage)
	client.expectMessage(opText, []byte("first"))
	for _, s := range want {
		client.expectMessage(opText, []byte(s))
	}
	for range 3 {
		if err := <-direct; err != nil {
			t.Errorf("direct send: %v", err)
		}
	}
	if err := <-local; err != nil {
		t.Errorf("local broadcast: %v", err)
	}
	eventually(t, "all counted as sent", func() bool { return framework.QueueStats(c).Sent == uint64(len(want)+1) })
	if qs := framework.QueueStats(c); qs.Dropped != 0 || qs.Pending != 0 || !c.Connected() {
		t.Errorf("queue stats %+v, connected %v: want none dropped or pending, connected", qs, c.Connected())
	}
	eventually(t, "the writer and the overflow's timer gone", func() bool { return runtime.NumGoroutine() <= base })
	client.closeNormally()
	p.waitClose(t)
}

// TestQueueBlockBrokerTimeout: a member that stops reading while broker
// deliveries wait for its queue is closed with 1013 once the first of
// them has waited BlockTimeout, and its connection ends.
func TestQueueBlockBrokerTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	n1, n2 := blockNodes(t, timeout)
	slow := dialSlow(t, n2.URL("/rooms/A?user=slow"))
	waitMember(t, n1.Hub(), "A", "slow")
	slowConn := localConn(t, n2.Hub(), "A", "slow")
	overflowSlow(t, n1.Hub(), "A", slowConn, timeout)
	if st := framework.HubStats(n2.Hub()); st.SlowClosed != 1 || st.Dropped == 0 {
		t.Errorf("node 2 hub stats %+v: want 1 slow client closed, some messages dropped", st)
	}
	// The slow client reads again: what was in flight, then 1013.
	expectClose1013(t, slow)
	eventually(t, "the end of the slow client", func() bool { return slowConn.Context().Err() != nil })
}

// TestQueueBlockBrokerClose: a DisconnectRoom from node 1 that reaches a
// member whose broker deliveries are parked waits behind them; if they
// time out first, the close is written at once, in place of the 1013, and
// the messages are dropped.
func TestQueueBlockBrokerClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		expire  bool // wait until the parked messages time out
	}{
		{"drained", 4 * rawTimeout, false},
		{"expired", 300 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n1, n2 := blockNodes(t, tc.timeout)
			p, client, c := remoteMember(t, n1, n2)
			ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
			defer cancel()

			release := holdBehindFirst(t, ctx, n1.Hub(), c)
			for i := range 8 {
				if err := n1.Hub().Broadcast(ctx, batchRoom, framework.Text(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
				waitPending(t, c, i+1)
			}
			if err := n1.Hub().DisconnectRoom(ctx, batchRoom, 4001, "bye"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the close delivered", func() bool { return !c.Connected() })
			if tc.expire {
				eventually(t, "the parked messages dropped", func() bool { return framework.QueueStats(c).Dropped == 8 })
			} else if qs := framework.QueueStats(c); qs.Pending != 9 || qs.Dropped != 0 {
				t.Fatalf("queue stats %+v: want 8 messages and the close pending, none dropped", qs)
			}
			release()
			client.expectMessage(opText, holdMessage)
			client.expectMessage(opText, []byte("first"))
			if !tc.expire {
				for i := range 8 {
					client.expectMessage(opText, []byte(strconv.Itoa(i)))
				}
			}
			if reason := client.expectClose(4001); reason != "bye" {
				t.Errorf("close reason %q, want %q", reason, "bye")
			}
			if st := p.waitClose(t); st.Code != 4001 {
				t.Errorf("OnClose got %v, want 4001", st)
			}
			if st := framework.HubStats(n2.Hub()); st.SlowClosed != 0 {
				t.Errorf("node 2 hub stats %+v: want no slow client closed", st)
			}
		})
	}
}

// TestQueueBlockLocalWaiterClose: a local Broadcast that times out waiting
// for room after a close was queued in order (DisconnectRoom) drops the
// queued messages but leaves the close to be written.
func TestQueueBlockLocalWaiterClose(t *testing.T) {
	_, n2 := blockNodes(t, 300*time.Millisecond)
	p := newProbe(t)
	joinOnOpen(p)
	client := dialRaw(t, n2.Addr, p.path("/probe"))
	t.Cleanup(func() { client.nc.Close() })
	c := p.waitJoined(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer cancel()
	hub := n2.Hub()
	eventually(t, "the member joined", func() bool { return len(hub.LocalMembers(batchRoom)) == 1 })

	release := holdWriter(t, c)
	if err := hub.Broadcast(ctx, batchRoom, framework.Text("first")); err != nil {
		t.Fatal(err)
	}
	waitPending(t, c, 0)
	for i := range 4 {
		if err := hub.Broadcast(ctx, batchRoom, framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	waiting := make(chan error, 1)
	go func() { waiting <- hub.Broadcast(ctx, batchRoom, framework.Text("late")) }()
	// Not parallel: the only broadcast waiting for room in the process.
	var dump string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stats %+v\n%s", framework.QueueStats(c), dump)
		}
	})
	eventually(t, "the broadcast waiting for room", func() bool {
		buf := make([]byte, 1<<20)
		dump = string(buf[:runtime.Stack(buf, true)])
		return strings.Contains(dump, "(*sendQueue).offerWait")
	})
	if err := hub.DisconnectRoom(ctx, batchRoom, 4001, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err != nil { // after BlockTimeout
		t.Fatal(err)
	}
	release()
	client.expectMessage(opText, holdMessage)
	client.expectMessage(opText, []byte("first"))
	// The four queued behind "first" and "late" were dropped; the close
	// comes next.
	if reason := client.expectClose(4001); reason != "bye" {
		t.Errorf("close reason %q, want %q", reason, "bye")
	}
	if st := p.waitClose(t); st.Code != 4001 {
		t.Errorf("OnClose got %v, want 4001", st)
	}
}

// TestQueueBlockParkedSendCancelled: a direct send waiting behind parked
// broker deliveries whose ctx ends is taken back, never written.
func TestQueueBlockParkedSendCancelled(t *testing.T) {
	t.Parallel()
	n1, n2 := blockNodes(t, 4*rawTimeout)
	p, client, c := remoteMember(t, n1, n2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer cancel()

	release := holdBehindFirst(t, ctx, n1.Hub(), c)
	for i := range 6 { // 4 queued, 2 parked
		if err := n1.Hub().Broadcast(ctx, batchRoom, framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		waitPending(t, c, i+1)
	}
	sctx, scancel := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- c.SendText(sctx, "cancelled") }()
	waitPending(t, c, 7)
	scancel()
	if err := <-sent; !errors.Is(err, context.Canceled) {
		t.Fatalf("SendText: got %v, want context.Canceled", err)
	}
	waitPending(t, c, 6)
	release()
	client.expectMessage(opText, holdMessage)
	for _, s := range []string{"first", "0", "1", "2", "3", "4", "5"} {
		client.expectMessage(opText, []byte(s))
	}
	if err := c.SendText(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	client.expectMessage(opText, []byte("after"))
	client.closeNormally()
	p.waitClose(t)
}
