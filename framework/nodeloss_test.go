package framework_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/natstest"
)

// These tests cover a node that dies without a goodbye: a child process
// (this test binary again, running TestNodeLossChild) serves a member over
// a real WebSocket and shares a NATS server with this process, and is
// killed with SIGKILL.

// lossInterval is the presence interval of the nodes of these tests.
const lossInterval = 400 * time.Millisecond

// startNATSServer starts a NATS server with the default configuration on
// 127.0.0.1 and returns its URL.
func startNATSServer(t *testing.T) string {
	t.Helper()
	return natstest.Start(t, server.Options{}).URL()
}

// natsNode starts a server serving brokertest.Rooms over a NATS broker
// connected to url, with the given presence interval.
func natsNode(t *testing.T, url string, interval time.Duration) *wstest.Server {
	t.Helper()
	b, err := natsbroker.Connect(url, natsbroker.Options{ReconnectWait: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("natsbroker.Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	brokertest.Eventually(t, 5*time.Second, "connected to NATS", func() bool { return b.Conn().IsConnected() })
	return brokerNode(t, b, interval)
}

// brokerNode starts a server serving brokertest.Rooms over b, with the
// given presence interval.
func brokerNode(t *testing.T, b framework.Broker, interval time.Duration) *wstest.Server {
	t.Helper()
	opts := framework.Options{
		Logger: slog.New(slog.DiscardHandler),
		Hub:    framework.HubOptions{Broker: b, PresenceInterval: interval},
	}
	return wstest.NewServerOptions(t, opts, brokertest.Rooms)
}

// TestNodeKilled: a member on a node process killed with SIGKILL leaves
// the presence of another node, with the reason LeaveNodeLost, within
// the documented bound: 3 presence intervals of the kill. Not before 1.5
// intervals either: the node's last heartbeat came at most one interval
// before the kill, and it is forgotten 2.5 intervals after that.
func TestNodeKilled(t *testing.T) {
	url := startNATSServer(t)
	parent := natsNode(t, url, lossInterval)

	cmd := exec.Command(os.Args[0], "-test.run=^TestNodeLossChild$", "-test.count=1", "-test.timeout=2m")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NOWS_NODELOSS_CHILD="+url)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		exited <- cmd.Wait() // after the reads: Wait closes stdout
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-exited
	})

	var addr, node string
	deadline := time.After(30 * time.Second) // a race-enabled binary starting
	for addr == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the child exited before serving")
			}
			if rest, ok := strings.CutPrefix(line, "nodeloss child: serving "); ok {
				addr, node, _ = strings.Cut(rest, " ")
			}
		case <-deadline:
			t.Fatal("the child did not serve within 30 s")
		}
	}

	events := make(chan framework.PresenceEvent, 64)
	stop := parent.Hub().Watch(func(ev framework.PresenceEvent) {
		if ev.Member.Node == node {
			events <- ev
		}
	})
	defer stop()
	member := brokertest.Dial(t, "ws://"+addr+"/rooms/lobby?user=zoe")
	waitMember(t, parent.Hub(), "lobby", "zoe")

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	bound, early := 3*lossInterval, 3*lossInterval/2
	timeout := time.After(bound + 5*time.Second) // to tell late from never
	for {
		select {
		case ev := <-events:
			if ev.Joined {
				continue
			}
			took := time.Since(killed)
			if ev.Member.ID != member.ID || ev.Room != "lobby" || ev.Reason != framework.LeaveNodeLost {
				t.Fatalf("leave event %+v, want member %s leaving lobby with reason %q", ev, member.ID, framework.LeaveNodeLost)
			}
			if took > bound || took < early {
				t.Fatalf("the member left %v after the kill, want between %v and %v (1.5 and 3 intervals of %v)", took, early, bound, lossInterval)
			}
			if ms := parent.Hub().Members("lobby"); len(ms) != 0 {
				t.Fatalf("members after the leave: %v", ms)
			}
			t.Logf("the member left %v after the kill (bound %v)", took.Round(time.Millisecond), bound)
			return
		case <-timeout:
			t.Fatalf("the member did not leave within %v of the kill; members %v", bound+5*time.Second, parent.Hub().Members("lobby"))
		}
	}
}

// TestNodeLossChild is the killed node of TestNodeKilled, run in a child
// process: a node on the NATS server at NOWS_NODELOSS_CHILD serving
// brokertest.Rooms, until its input ends or it is killed.
func TestNodeLossChild(t *testing.T) {
	url := os.Getenv("NOWS_NODELOSS_CHILD")
	if url == "" {
		t.Skip("run by TestNodeKilled")
	}
	srv := natsNode(t, url, lossInterval)
	os.Stdout.WriteString("nodeloss child: serving " + srv.Addr + " " + srv.Hub().Node() + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// failBroker fails its node's publishes while fail is set.
type failBroker struct {
	framework.Broker
	fail atomic.Bool
}

func (b *failBroker) Publish(ctx context.Context, topic string, p []byte) error {
	if b.fail.Load() {
		return errors.New("failBroker: publish failed by the test")
	}
	return b.Broker.Publish(ctx, topic, p)
}

// TestPresenceLeaveReasons: a leave that node 2 failed to publish reaches
// node 1 through the resync that the gap in node 2's numbers starts
// (LeaveResync); the members of a node that shuts down leave as their
// connections close (LeaveMember), before its goodbye, and those still
// listed at its goodbye with LeaveNodeStopped.
func TestPresenceLeaveReasons(t *testing.T) {
	mb := framework.NewMemoryBroker()
	fb := &failBroker{Broker: mb}
	n1 := &brokertest.Node{Server: brokerNode(t, mb, lossInterval)}
	n2 := &brokertest.Node{Server: brokerNode(t, fb, lossInterval)}
	leaves := make(chan framework.PresenceEvent, 16)
	stop := n1.Hub().Watch(func(ev framework.PresenceEvent) {
		if !ev.Joined && ev.Member.Node == n2.Hub().Node() {
			leaves <- ev
		}
	})
	defer stop()
	gone := n2.Join(t, "r", "gone")
	n2.Join(t, "r", "stays")
	brokertest.WaitMembers(t, "r", []string{"gone", "stays"}, n1, n2)
	expect := func(user string, why framework.LeaveReason) {
		t.Helper()
		select {
		case ev := <-leaves:
			if ev.Member.User != user || ev.Reason != why {
				t.Fatalf("leave event %+v, want %s leaving with reason %q", ev, user, why)
			}
		case <-time.After(brokertest.Timeout):
			t.Fatalf("no leave event of %s within %v", user, brokertest.Timeout)
		}
	}

	// A member that is no connection, so never leaves: node 1 learns of
	// it from node 2's state, below.
	framework.AddIdleMembers(n2.Hub(), "r", 1)
	failed := framework.HubStats(n2.Hub()).BrokerErrors
	fb.fail.Store(true)
	gone.Close()
	brokertest.Eventually(t, 5*time.Second, "node 2's leave publish failing", func() bool {
		return framework.HubStats(n2.Hub()).BrokerErrors > failed
	})
	fb.fail.Store(false)
	expect("gone", framework.LeaveResync)
	brokertest.WaitMembers(t, "r", []string{"idle-0", "stays"}, n1, n2)
	if st := framework.HubStats(n1.Hub()); st.Missed == 0 {
		t.Errorf("node 1 counted nothing missed: %+v", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	expect("stays", framework.LeaveMember)
	expect("idle-0", framework.LeaveNodeStopped)
	if ms := n1.Hub().Members("r"); len(ms) != 0 {
		t.Fatalf("members after node 2's shutdown: %v", ms)
	}
}
