package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
)

// redisProcess is a redis-server on 127.0.0.1 that a test can kill and
// start again on the same port.
type redisProcess struct {
	bin, port string
	done      chan struct{}
	cmd       *exec.Cmd
}

// startRedisProcess starts redis-server, or skips the test when it is
// not installed (except in CI).
func startRedisProcess(t *testing.T) *redisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is required in CI: %v", err)
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	r := &redisProcess{bin: bin, port: port}
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

func (r *redisProcess) addr() string { return "127.0.0.1:" + r.port }

func (r *redisProcess) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", r.port, "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.done)
	brokertest.Eventually(t, 10*time.Second, "redis-server listening", func() bool {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// kill kills redis-server with SIGKILL and waits for it to end.
func (r *redisProcess) kill() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		<-r.done
		r.cmd = nil
	}
}

// TestRedisOutageCounted: redis-server is killed while two nodes share
// it; what node 1 broadcasts meanwhile reaches its own member only, and
// once redis-server is back on the same port, node 2 counts it as missed
// from node 1 (stats, Hub.Err naming node 1), and broadcasts flow again.
func TestRedisOutageCounted(t *testing.T) {
	r := startRedisProcess(t)
	quiet := slog.New(slog.DiscardHandler)
	var nodes []*brokertest.Node
	for range 2 {
		b, err := redisbroker.Connect("redis://"+r.addr(), redisbroker.Options{Logger: quiet})
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

	r.kill()
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

	r.start(t)
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
