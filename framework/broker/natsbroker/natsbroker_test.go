package natsbroker_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/natstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// broker connects a broker to ns, closed at the test's end.
func broker(t testing.TB, ns *natstest.Server) framework.Broker {
	t.Helper()
	b, err := natsbroker.Connect(ns.URL(), natsbroker.Options{ReconnectWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestBroker runs the cross-node checks: three servers sharing a real NATS
// server, which the outage check stops and starts again.
func TestBroker(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	brokertest.Run(t, brokertest.Harness{
		NewBroker: func(t testing.TB) framework.Broker { return broker(t, ns) },
		Stop:      func(testing.TB) { ns.Stop() },
		Start:     ns.Start,
	})
}

// TestMaxPayload: the broker's limit is the server's max_payload, 1 MiB by
// default, and a set one once connected.
func TestMaxPayload(t *testing.T) {
	b := broker(t, natstest.Start(t, server.Options{})).(*natsbroker.Broker)
	brokertest.Eventually(t, 5*time.Second, "connected", func() bool { return b.Conn().IsConnected() })
	if got := b.MaxPayload(); got != 1<<20 {
		t.Errorf("MaxPayload with the default server: %d, want %d", got, 1<<20)
	}
	small := natstest.Start(t, server.Options{MaxPayload: 64 << 10})
	sb, err := natsbroker.Connect(small.URL(), natsbroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	brokertest.Eventually(t, 5*time.Second, "connected", func() bool { return sb.Conn().IsConnected() })
	if got := sb.MaxPayload(); got != 64<<10 {
		t.Errorf("MaxPayload with max_payload 64 KiB: %d, want %d", got, 64<<10)
	}
}

// TestPrefix: brokers with different prefixes do not hear each other.
func TestPrefix(t *testing.T) {
	ns := natstest.Start(t, server.Options{})
	mk := func(prefix string) *countingBroker {
		b, err := natsbroker.Connect(ns.URL(), natsbroker.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return &countingBroker{Broker: b}
	}
	ca, cb := mk("app1."), mk("app2.")
	a := brokertest.NewNode(t, ca)
	b := brokertest.NewNode(t, cb)
	a.Join(t, "r", "a")
	b.Join(t, "r", "b")
	brokertest.WaitMembers(t, "r", []string{"a"}, a)
	brokertest.WaitMembers(t, "r", []string{"b"}, b)
	// Once a has published a few heartbeats, b has heard none of them.
	brokertest.Eventually(t, 5*time.Second, "node a publishes", func() bool { return ca.published.Load() >= 3 })
	// b hears its own messages only: as many as it published.
	if got, own := cb.received.Load(), cb.published.Load(); got > own {
		t.Errorf("node b received %d payloads but published %d: it heard another prefix", got, own)
	}
}

// countingBroker counts the payloads a broker publishes and delivers.
type countingBroker struct {
	framework.Broker
	published, received atomic.Int64
}

func (b *countingBroker) Publish(ctx context.Context, topic string, p []byte) error {
	b.published.Add(1)
	return b.Broker.Publish(ctx, topic, p)
}

func (b *countingBroker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (framework.Subscription, error) {
	return b.Broker.Subscribe(ctx, topic, func(p []byte) {
		b.received.Add(1)
		fn(p)
	})
}

// BenchmarkFanOutTwoNodes: one message to a room of 1,000 connections
// spread over two servers that share a NATS server; node 1 broadcasts, so
// half the deliveries cross NATS.
func BenchmarkFanOutTwoNodes(b *testing.B) {
	ns := natstest.Start(b, server.Options{})
	quiet := slog.New(slog.DiscardHandler)
	var nodes []*brokertest.Node
	for range 2 {
		opts := framework.Options{Logger: quiet, Hub: framework.HubOptions{Broker: broker(b, ns), PresenceInterval: brokertest.PresenceInterval}}
		nodes = append(nodes, &brokertest.Node{Server: wstest.NewServerOptions(b, opts, brokertest.Rooms)})
	}
	brokertest.FanOut(b, nodes, 1000)
}
