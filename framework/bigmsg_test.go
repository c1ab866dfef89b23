package framework_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
	"github.com/nowebsocket/nows/internal/redistest"
)

// These tests cross a broker's payload limit with real brokers: a NATS
// server in this process, with its default configuration (max_payload
// 1 MiB), and a redis-server process.

// startNATS starts a NATS server with the default configuration on
// 127.0.0.1 and returns a function that connects a broker to it.
func startNATS(t *testing.T) func(testing.TB) framework.Broker {
	t.Helper()
	url := startNATSServer(t) // nodeloss_test.go
	return func(t testing.TB) framework.Broker {
		t.Helper()
		b, err := natsbroker.Connect(url, natsbroker.Options{ReconnectWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("natsbroker.Connect: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		// The limit is the server's once connected.
		brokertest.Eventually(t, 5*time.Second, "connected to NATS", func() bool { return b.Conn().IsConnected() })
		return b
	}
}

// startRedis starts redis-server with its default limits on 127.0.0.1, or
// skips the test when it is not installed (except in CI), and returns a
// function that connects a broker to it.
func startRedis(t *testing.T) func(testing.TB) framework.Broker {
	t.Helper()
	url := redistest.Start(t).URL()
	return func(t testing.TB) framework.Broker {
		t.Helper()
		b, err := redisbroker.Connect(url, redisbroker.Options{})
		if err != nil {
			t.Fatalf("redisbroker.Connect: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
}

// bigMessage returns size bytes of text that start with label and differ
// along their length.
func bigMessage(label string, size int) string {
	var b strings.Builder
	b.WriteString(label)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(' ')
	}
	return b.String()[:size]
}

// TestBroadcastOverNATSLimit: a 1.5 MiB broadcast from node 1, over the
// NATS default max_payload (1 MiB) but under MaxMessageBytes (2 MiB),
// reaches the member on node 2 whole.
func TestBroadcastOverNATSLimit(t *testing.T) {
	connect := startNATS(t)
	n1 := brokertest.NewNode(t, connect(t))
	n2 := brokertest.NewNode(t, connect(t))
	room := "big"
	p1 := n1.Join(t, room, "a")
	p2 := n2.Join(t, room, "b")
	brokertest.WaitMembers(t, room, []string{"a", "b"}, n1, n2)

	msg := bigMessage("big:", 1536<<10)
	if err := n1.Hub().Broadcast(context.Background(), room, framework.Text(msg)); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	for i, p := range []*brokertest.Peer{p1, p2} {
		if got := p.Next(); got != msg {
			t.Fatalf("node %d: got %d bytes (%.20q...), want the %d-byte broadcast", i+1, len(got), got, len(msg))
		}
	}
	if err := n1.Hub().Err(); err != nil {
		t.Errorf("node 1: Hub.Err: %v", err)
	}
	if st := framework.HubStats(n2.Hub()); st.ChunksDropped != 0 {
		t.Errorf("node 2 dropped %d chunked messages", st.ChunksDropped)
	}
}

// TestBroadcastOrderOverNATSLimit: broadcasts over and under the NATS limit,
// interleaved, from one node reach the other node's member in order, each
// once.
func TestBroadcastOrderOverNATSLimit(t *testing.T) {
	connect := startNATS(t)
	n1 := brokertest.NewNode(t, connect(t))
	n2 := brokertest.NewNode(t, connect(t))
	room := "order"
	n1.Join(t, room, "a")
	p2 := n2.Join(t, room, "b")
	brokertest.WaitMembers(t, room, []string{"a", "b"}, n1, n2)

	const count = 24
	want := make([]string, count)
	for i := range want {
		if i%3 == 1 {
			want[i] = bigMessage(fmt.Sprintf("%d:", i), 1200<<10+i)
		} else {
			want[i] = fmt.Sprintf("%d:small", i)
		}
	}
	for _, m := range want {
		if err := n1.Hub().Broadcast(context.Background(), room, framework.Text(m)); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for i, w := range want {
		if got := p2.Next(); got != w {
			t.Fatalf("message %d on node 2: got %d bytes (%.12q...), want %d bytes (%.12q...)", i, len(got), got, len(w), w)
		}
	}
	if m, ok := p2.Poll(300 * time.Millisecond); ok {
		t.Fatalf("node 2 got a message more (a duplicate?): %.20q", m)
	}
}

// TestBroadcastOverMaxMessageBytes: a broadcast over both the NATS limit and
// MaxMessageBytes, which no node would take in chunks, fails at the call
// with an error that names the limits; nothing is delivered.
func TestBroadcastOverMaxMessageBytes(t *testing.T) {
	connect := startNATS(t)
	n1 := brokertest.NewNode(t, connect(t))
	p1 := n1.Join(t, "r", "a")
	err := n1.Hub().Broadcast(context.Background(), "r", framework.Binary(make([]byte, 3<<20)))
	if !errors.Is(err, framework.ErrBadMessage) || !strings.Contains(err.Error(), "1048576") || !strings.Contains(err.Error(), "2097152") {
		t.Fatalf("Broadcast of 3 MiB: got %v, want ErrBadMessage naming 1048576 and 2097152", err)
	}
	if m, ok := p1.Poll(100 * time.Millisecond); ok {
		t.Fatalf("got %d bytes, want nothing", len(m))
	}

	// A hub of NewHub publishes at once, and fails alike.
	pub := framework.NewHub(framework.HubOptions{Broker: connect(t)})
	defer pub.Close()
	if err := pub.Broadcast(context.Background(), "r", framework.Binary(make([]byte, 3<<20))); !errors.Is(err, framework.ErrBadMessage) {
		t.Fatalf("NewHub: Broadcast of 3 MiB: got %v, want ErrBadMessage", err)
	}
	// Under MaxMessageBytes, it goes out in chunks.
	msg := bigMessage("pub:", 1536<<10)
	if err := pub.Broadcast(context.Background(), "r", framework.Text(msg)); err != nil {
		t.Fatalf("NewHub: Broadcast of 1.5 MiB: %v", err)
	}
	if got := p1.Next(); got != msg {
		t.Fatalf("from NewHub: got %d bytes, want %d", len(got), len(msg))
	}
}

// bigStateSize is the number of memberships of TestLargePresenceState:
// NOWS_BIG_STATE (100000 is the full size, a few seconds under -race), or
// 40,000: a state of about 1.4 MB, over the NATS limit of 1 MiB.
func bigStateSize(t *testing.T) int {
	if s := os.Getenv("NOWS_BIG_STATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("NOWS_BIG_STATE=%q: want a positive number", s)
		}
		return n
	}
	return 40_000
}

// TestLargePresenceState: a node with many memberships (NOWS_BIG_STATE,
// 100,000 at full size) in one room; a node that starts afterwards sees
// them all, from the state in pages, over NATS and over Redis.
func TestLargePresenceState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T) func(testing.TB) framework.Broker
	}{{"NATS", startNATS}, {"Redis", startRedis}} {
		t.Run(tc.name, func(t *testing.T) {
			connect := tc.start(t)
			n := bigStateSize(t)
			n1 := brokertest.NewNode(t, connect(t))
			framework.AddIdleMembers(n1.Hub(), "crowd", n)
			start := time.Now()
			n2 := brokertest.NewNode(t, connect(t))
			var got int
			brokertest.Eventually(t, 30*time.Second, fmt.Sprintf("node 2 sees %d members", n), func() bool {
				got = len(n2.Hub().Members("crowd"))
				return got == n
			})
			t.Logf("%d memberships seen on node 2 after %v", n, time.Since(start).Round(time.Millisecond))
			if err := n1.Hub().Err(); err != nil {
				t.Errorf("node 1: Hub.Err: %v", err)
			}
			if st := framework.HubStats(n2.Hub()); st.ChunksDropped != 0 {
				t.Errorf("node 2 dropped %d states or messages", st.ChunksDropped)
			}
		})
	}
}

// lossyBroker is an in-process broker with a payload limit that loses the
// payloads for which lose returns true.
type lossyBroker struct {
	framework.Broker
	limit int
	mu    sync.Mutex
	n     int // payloads over 4 KiB published
	lose  func(n int) bool
}

func (b *lossyBroker) MaxPayload() int { return b.limit }

func (b *lossyBroker) Publish(ctx context.Context, topic string, p []byte) error {
	if len(p) > b.limit {
		return fmt.Errorf("lossyBroker: %d bytes over the limit of %d", len(p), b.limit)
	}
	if len(p) > 4<<10 {
		b.mu.Lock()
		b.n++
		lose := b.lose(b.n)
		b.mu.Unlock()
		if lose {
			return nil
		}
	}
	return b.Broker.Publish(ctx, topic, p)
}

// TestChunkLostIsCounted: when a chunk of a broadcast is lost, the other
// node drops that broadcast, counts and logs it, and delivers the next
// ones whole and in order.
func TestChunkLostIsCounted(t *testing.T) {
	b := &lossyBroker{Broker: framework.NewMemoryBroker(), limit: 64 << 10, lose: func(n int) bool { return n == 2 }}
	n1 := brokertest.NewNode(t, b)
	n2 := brokertest.NewNode(t, b)
	n1.Join(t, "r", "a")
	p2 := n2.Join(t, "r", "b")
	brokertest.WaitMembers(t, "r", []string{"a", "b"}, n1, n2)
	lost, next := bigMessage("lost:", 200<<10), bigMessage("next:", 200<<10)
	for _, m := range []string{lost, "small", next} {
		if err := n1.Hub().Broadcast(context.Background(), "r", framework.Text(m)); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	for _, w := range []string{"small", next} {
		if got := p2.Next(); got != w {
			t.Fatalf("got %d bytes (%.10q...), want %d bytes (%.10q...)", len(got), got, len(w), w)
		}
	}
	if st := framework.HubStats(n2.Hub()); st.ChunksDropped != 1 {
		t.Fatalf("node 2 counted %d dropped chunked messages, want 1", st.ChunksDropped)
	}
}

// TestStatePageLost: when a page of a node's state is lost, the other node
// drops that state, counts it, asks again and gets the whole state.
func TestStatePageLost(t *testing.T) {
	b := &lossyBroker{Broker: framework.NewMemoryBroker(), limit: 64 << 10, lose: func(n int) bool { return n == 2 }}
	n1 := brokertest.NewNode(t, b)
	const n = 5000 // about 175 KB: 3 pages of 64 KiB
	framework.AddIdleMembers(n1.Hub(), "crowd", n)
	n2 := brokertest.NewNode(t, b)
	brokertest.Eventually(t, 10*time.Second, "node 2 sees every member", func() bool {
		return len(n2.Hub().Members("crowd")) == n
	})
	if st := framework.HubStats(n2.Hub()); st.ChunksDropped != 1 {
		t.Fatalf("node 2 counted %d dropped states, want 1", st.ChunksDropped)
	}
}
