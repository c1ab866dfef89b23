package redisbroker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// broker connects a broker to rs, closed at the test's end.
func broker(t testing.TB, rs *redistest.Server) framework.Broker {
	t.Helper()
	b, err := redisbroker.Connect(rs.URL(), redisbroker.Options{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestBroker runs the cross-node checks: three servers sharing a real
// redis-server, which the outage check kills and starts again.
func TestBroker(t *testing.T) {
	rs := redistest.Start(t)
	brokertest.Run(t, brokertest.Harness{
		NewBroker: func(t testing.TB) framework.Broker { return broker(t, rs) },
		Stop:      func(testing.TB) { rs.Stop() },
		Start:     rs.Restart,
	})
}

func TestConnectBadURL(t *testing.T) {
	if _, err := redisbroker.Connect("http://nope", redisbroker.Options{}); err == nil {
		t.Fatal("Connect(http://nope): got nil error, want one")
	}
}

// TestPublishDown: Publish fails, within its context, while Redis is down.
func TestPublishDown(t *testing.T) {
	rs := redistest.Start(t)
	b := broker(t, rs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Publish(ctx, "t", []byte("x")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	rs.Stop()
	if err := b.Publish(ctx, "t", []byte("x")); err == nil {
		t.Fatal("Publish with Redis down: got nil error, want one")
	}
}

// TestMaxPayload: the default limit is 1 MiB, Options.MaxPayload sets
// another, and a negative one means none.
func TestMaxPayload(t *testing.T) {
	for _, c := range []struct{ opt, want int }{{0, 1 << 20}, {256 << 10, 256 << 10}, {-1, 0}} {
		b := redisbroker.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), redisbroker.Options{MaxPayload: c.opt})
		if got := b.MaxPayload(); got != c.want {
			t.Errorf("MaxPayload with Options.MaxPayload %d: %d, want %d", c.opt, got, c.want)
		}
		_ = b.Client().Close()
	}
}

// TestLargeBroadcastChunked: a 6 MiB broadcast, with MaxMessageBytes raised
// to 8 MiB, reaches a member on another node whole, between two small ones,
// and crosses Redis in messages of at most 1 MiB. The redis-server runs with
// client-output-buffer-limit pubsub 4mb 2mb 60: the broadcast in one
// message passes the hard limit and Redis disconnects the subscribers (with
// Options.MaxPayload -1, the member on node 2 gets nothing).
func TestLargeBroadcastChunked(t *testing.T) {
	rs := redistest.Start(t, "--client-output-buffer-limit", "pubsub 4mb 2mb 60")

	// A plain subscriber on the hub's channel records the largest message.
	raw := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps := raw.Subscribe(ctx, "nows.hub")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	var largest, total atomic.Int64
	rawDone := make(chan struct{})
	go func() {
		defer close(rawDone)
		for m := range ps.Channel() {
			n := int64(len(m.Payload))
			total.Add(n)
			for old := largest.Load(); n > old && !largest.CompareAndSwap(old, n); old = largest.Load() {
			}
		}
	}()

	const maxMsg = 8 << 20
	var nodes []*brokertest.Node
	for range 2 {
		opts := framework.Options{
			MaxMessageBytes: maxMsg,
			Hub:             framework.HubOptions{Broker: broker(t, rs), PresenceInterval: brokertest.PresenceInterval},
		}
		nodes = append(nodes, &brokertest.Node{Server: wstest.NewServerOptions(t, opts, brokertest.Rooms)})
	}
	room := "big"
	peers := []*brokertest.Peer{nodes[0].Join(t, room, "a"), nodes[1].Join(t, room, "b")}
	brokertest.WaitMembers(t, room, []string{"a", "b"}, nodes...)

	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	big[len(big)-1] = '!'
	for _, m := range []string{"before", string(big), "after"} {
		if err := nodes[0].Hub().Broadcast(ctx, room, framework.Text(m)); err != nil {
			t.Fatalf("Broadcast of %d bytes: %v", len(m), err)
		}
	}
	for i, p := range peers {
		p.Expect("before")
		if got := p.Next(); got != string(big) {
			t.Fatalf("node %d: got %d bytes, want the %d-byte broadcast", i, len(got), len(big))
		}
		p.Expect("after")
	}
	for i, n := range nodes {
		if err := n.Hub().Err(); err != nil {
			t.Errorf("Hub.Err of node %d: %v", i, err)
		}
	}
	// The raw subscriber has seen the chunks (they came before "after").
	brokertest.Eventually(t, 5*time.Second, "the chunks on the raw subscriber", func() bool {
		return total.Load() >= int64(len(big))
	})
	if got := largest.Load(); got > redisbroker.DefaultMaxPayload {
		t.Errorf("largest message on the hub's channel: %d bytes, want at most %d", got, redisbroker.DefaultMaxPayload)
	}
	_ = ps.Close()
	<-rawDone
}
