package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
	"github.com/nowebsocket/nows/internal/redistest"
)

// TestRedisOutageCounted: redis-server is killed while two nodes share
// it; what node 1 broadcasts meanwhile reaches its own member only, and
// once redis-server is back on the same port, node 2 counts it as missed
// from node 1 (stats, Hub.Err naming node 1), and broadcasts flow again.
func TestRedisOutageCounted(t *testing.T) {
	r := redistest.Start(t)
	quiet := slog.New(slog.DiscardHandler)
	var nodes []*brokertest.Node
	for range 2 {
		b, err := redisbroker.Connect(r.URL(), redisbroker.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		nodes = append(nodes, &brokertest.Node{Server: brokerNode(t, b, clusterInterval)})
	}
	room := "outage"
	p1 := nodes[0].Join(t, room, "u1")
	p2 := nodes[1].Join(t, room, "u2")
	brokertest.WaitMembers(t, room, []string{"u1", "u2"}, nodes...)
	hub1, hub2 := nodes[0].Hub(), nodes[1].Hub()

	r.Stop()
	ctx := context.Background()
	const lost = 5
	for i := range lost {
		if err := hub1.Broadcast(ctx, room, framework.Text(fmt.Sprintf("gap %d", i))); err != nil {
			t.Fatal(err)
		}
		p1.Expect(fmt.Sprintf("gap %d", i))
	}
	failed := func() uint64 { return framework.HubStats(hub1).BrokerErrors }
	brokertest.Eventually(t, 10*time.Second, "node 1's publishes failing", func() bool { return failed() >= lost })

	r.Restart(t)
	missedErr := false
	brokertest.Eventually(t, 10*time.Second, "node 2 counting what it missed of node 1", func() bool {
		err := hub2.Err()
		if err != nil && errors.Is(err, framework.ErrBroker) && strings.Contains(err.Error(), "missed") && strings.Contains(err.Error(), hub1.Node()) {
			missedErr = true
		}
		return missedErr && framework.HubStats(hub2).Missed >= lost
	})
	got := ""
	for i := 0; got == "" && i < 100; i++ {
		msg := fmt.Sprintf("after %d", i)
		if err := hub1.Broadcast(ctx, room, framework.Text(msg)); err != nil {
			t.Fatal(err)
		}
		for {
			m, ok := p2.Poll(50 * time.Millisecond)
			if !ok {
				break
			}
			if strings.HasPrefix(m, "gap") {
				t.Fatalf("node 2's member got %q, published during the outage", m)
			}
			got = m
		}
	}
	if got == "" {
		t.Fatal("broadcasts from node 1 never reached node 2's member after the outage")
	}
	t.Logf("node 1 failed %d publishes; node 2 missed %d of them", failed(), framework.HubStats(hub2).Missed)
}
