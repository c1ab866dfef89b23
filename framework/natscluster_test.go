package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
)

// These tests run the nodes on a NATS cluster of three servers in this
// process (nats-server's own clustering, full mesh of routes on
// 127.0.0.1), each node connected through another server, and shut one
// server down.

// startNATSCluster starts n clustered NATS servers and waits until each
// has a route to every other.
func startNATSCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	var servers []*server.Server
	var seed []*url.URL
	for i := range n {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("s%d", i+1),
			Host:       "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "nows", Host: "127.0.0.1", Port: -1, PoolSize: -1},
			Routes:  seed, // the others are learnt from the seed
		})
		if err != nil {
			t.Fatalf("nats server %d: %v", i+1, err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats server %d not ready within 10s", i+1)
		}
		t.Cleanup(func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
		if seed == nil {
			seed = []*url.URL{{Scheme: "nats", Host: ns.ClusterAddr().String()}}
		}
		servers = append(servers, ns)
	}
	brokertest.Eventually(t, 10*time.Second, "a full mesh of routes", func() bool {
		for _, ns := range servers {
			if ns.NumRoutes() != n-1 {
				return false
			}
		}
		return true
	})
	return servers
}

// gateDialer dials while open, and fails while closed: a node whose
// broker connection stays down as long as the test wants.
type gateDialer struct{ closed atomic.Bool }

func (d *gateDialer) Dial(network, address string) (net.Conn, error) {
	if d.closed.Load() {
		return nil, errors.New("gate closed by the test")
	}
	return net.DialTimeout(network, address, time.Second)
}

// clusterInterval is the presence interval of the cluster test's nodes.
const clusterInterval = 200 * time.Millisecond

// TestNATSClusterFailover: three nodes, each connected through its own
// server of a three-server NATS cluster, share a room. The server of node
// 2 is shut down, and node 2 is kept from reconnecting for a while: its
// broadcasts, heartbeats and a join made meanwhile reach its own members
// only. Then node 2 fails over to another server of the cluster (it was
// given one URL and learnt the others from the cluster). The other nodes
// count what it published during the gap (stats Missed, Hub.Err naming
// node 2), ask for its presence again (the join made during the gap shows
// up), and broadcasts between every pair of nodes flow again.
func TestNATSClusterFailover(t *testing.T) {
	servers := startNATSCluster(t, 3)
	quiet := slog.New(slog.DiscardHandler)
	connect := func(i int) framework.Broker {
		b, err := natsbroker.Connect(servers[i].ClientURL(), natsbroker.Options{ReconnectWait: 20 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	// Node 2's connection: Connect's options (fail publishes while down,
	// reconnect forever), through a dialer the test can close.
	gate := &gateDialer{}
	nc2, err := nats.Connect(servers[1].ClientURL(),
		nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectBufSize(-1), nats.SetCustomDialer(gate))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	brokers := []framework.Broker{connect(0), natsbroker.New(nc2, natsbroker.Options{}), connect(2)}
	var nodes []*brokertest.Node
	for i, b := range brokers {
		nb := b.(*natsbroker.Broker)
		brokertest.Eventually(t, 5*time.Second, fmt.Sprintf("node %d connected, knowing the 3 servers", i+1), func() bool {
			return nb.Conn().IsConnected() && len(nb.Conn().Servers()) == 3
		})
		if got, want := nb.Conn().ConnectedServerName(), fmt.Sprintf("s%d", i+1); got != want {
			t.Fatalf("node %d connected to %s, want %s", i+1, got, want)
		}
		nodes = append(nodes, &brokertest.Node{Server: brokerNode(t, b, clusterInterval)})
	}
	room := "cluster"
	var peers []*brokertest.Peer
	for i, n := range nodes {
		peers = append(peers, n.Join(t, room, fmt.Sprintf("u%d", i+1)))
	}
	brokertest.WaitMembers(t, room, []string{"u1", "u2", "u3"}, nodes...)
	everyPairFlows(t, nodes, peers, "before")

	// Node 2's server goes, and node 2 stays cut off.
	hub2 := nodes[1].Hub()
	gate.closed.Store(true)
	servers[1].Shutdown()
	servers[1].WaitForShutdown()
	brokertest.Eventually(t, 5*time.Second, "node 2 disconnected", func() bool { return !nc2.IsConnected() })
	ctx := context.Background()
	const lost = 5
	for i := range lost {
		if err := hub2.Broadcast(ctx, room, framework.Text(fmt.Sprintf("gap %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	late := nodes[1].Join(t, room, "late") // its join is published during the gap
	for i := range lost {
		peers[1].Expect(fmt.Sprintf("gap %d", i)) // delivered on its own node
	}
	failed := func() uint64 { return framework.HubStats(hub2).BrokerErrors }
	brokertest.Eventually(t, 5*time.Second, "node 2's publishes failing", func() bool { return failed() >= lost+1 })
	if err := hub2.Err(); !errors.Is(err, framework.ErrBroker) {
		t.Fatalf("node 2: Hub.Err = %v, want the outage", err)
	}

	// Node 2 fails over to another server. Each other node finds the gap
	// in node 2's numbers on its first envelope after it.
	gate.closed.Store(false)
	for i, n := range []*brokertest.Node{nodes[0], nodes[2]} {
		hub := n.Hub()
		var missed uint64
		var err error
		deadline := time.Now().Add(10 * time.Second)
		// The count goes up a moment before Err reports the gap (for 3
		// intervals): wait for both.
		for (missed == 0 || err == nil) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			missed = framework.HubStats(hub).Missed
			err = hub.Err()
		}
		if missed == 0 {
			t.Fatalf("node %d counted nothing missed of node 2", 2*i+1)
		}
		if err == nil || !errors.Is(err, framework.ErrBroker) || !strings.Contains(err.Error(), hub2.Node()) || !strings.Contains(err.Error(), "missed") {
			t.Errorf("node %d: Hub.Err = %v, want the messages missed from node 2 (%s)", 2*i+1, err, hub2.Node())
		}
		t.Logf("node %d: missed %d (node 2 failed %d publishes); Err: %v", 2*i+1, missed, failed(), err)
	}
	brokertest.Eventually(t, 10*time.Second, "node 2 reconnected to another server", func() bool {
		return nc2.IsConnected() && nc2.ConnectedServerName() != "s2"
	})
	// The presence resync: the join made during the gap shows up.
	brokertest.WaitMembers(t, room, []string{"late", "u1", "u2", "u3"}, nodes...)
	for i, n := range []*brokertest.Node{nodes[0], nodes[2]} {
		// Everything node 2 failed to publish is counted; more may be
		// (what was in flight to the server that went).
		if missed, f := framework.HubStats(n.Hub()).Missed, failed(); missed < f {
			t.Errorf("node %d counted %d missed, under the %d publishes node 2 failed", 2*i+1, missed, f)
		}
	}
	everyPairFlows(t, nodes, append(peers, late), "after")
}

// everyPairFlows checks that a broadcast from each node reaches the
// member of every other node (peers[i] is on nodes[i]; peers past the
// nodes only listen), retrying while the cluster settles, then reads every
// member until quiet. No member may get a broadcast made during the gap
// ("gap N") from another node.
func everyPairFlows(t *testing.T, nodes []*brokertest.Node, peers []*brokertest.Peer, label string) {
	t.Helper()
	ctx := context.Background()
	next := func(p *brokertest.Peer, d time.Duration) (string, bool) {
		m, ok := p.Poll(d)
		if ok && strings.HasPrefix(m, "gap") && p != peers[1] {
			t.Fatalf("%s: a member of another node got %q, published during the gap", label, m)
		}
		return m, ok
	}
	defer func() {
		for _, p := range peers {
			for {
				if _, ok := next(p, 100*time.Millisecond); !ok {
					break
				}
			}
		}
	}()
	for i, from := range nodes {
		for j, to := range peers {
			if i == j {
				continue
			}
			got := false
			for k := 0; !got && k < 100; k++ {
				msg := fmt.Sprintf("%s %d>%d #%d", label, i+1, j+1, k)
				if err := from.Hub().Broadcast(ctx, "cluster", framework.Text(msg)); err != nil {
					t.Fatal(err)
				}
				for {
					m, ok := next(to, 50*time.Millisecond)
					if !ok {
						break
					}
					if m == msg {
						got = true
						break
					}
				}
			}
			if !got {
				t.Fatalf("%s: broadcasts from node %d never reached node %d's member", label, i+1, j+1)
			}
		}
	}
}
