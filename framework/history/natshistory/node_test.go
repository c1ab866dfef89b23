package natshistory_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/natshistory"
)

// This file holds the node of TestRecovery: a nows server in a process of
// its own (this test binary again, running TestRecoveryNode), so that the
// test can kill it with SIGKILL and start it again, as an operator's
// crash does. The node serves the events route /ev, whose OnJoin accepts
// the room recoveryRoom, with that room's history in a natshistory Store
// on the parent's JetStream server.
//
// Protocol: the parent sets NOWS_RECOVERY_NODE to "NATS-URL STREAM PREFIX"
// and runs the child; the child prints "node: ready ADDR" once it listens
// on ADDR (a free 127.0.0.1 port), or "node: error ...", and serves until
// its input ends (the parent closed it, or the parent died).

const (
	recoveryRoom = "e2e"
	nodeEnv      = "NOWS_RECOVERY_NODE"
	nodeWait     = 30 * time.Second // bounds a node's start and its stop
)

// recoveryWindow is the room's window: larger than the test's messages,
// so that every rejoin recovers.
var recoveryWindow = history.Limits{Size: 2000, TTL: time.Hour}

// recoveryHistory is the history configuration of the node and of the
// test's Publisher.
func recoveryHistory(st *natshistory.Store) history.Config {
	return history.Config{Store: st, Rooms: map[string]history.Limits{recoveryRoom: recoveryWindow}}
}

// recoveryNode is the node's events handler.
type recoveryNode struct{}

// OnJoin accepts the test's room alone.
func (recoveryNode) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if room != recoveryRoom {
		return fmt.Errorf("no room %q here", room)
	}
	return nil
}

// TestRecoveryNode is the node of TestRecovery, run in a child process;
// see the protocol at the top of the file.
func TestRecoveryNode(t *testing.T) {
	spec := os.Getenv(nodeEnv)
	if spec == "" {
		t.Skip("run by TestRecovery as its node")
	}
	if err := serveNode(spec, os.Stdin); err != nil {
		fmt.Printf("node: error %v\n", err)
		t.Fatal(err)
	}
}

// serveNode serves the node of spec until in ends.
func serveNode(spec string, in io.Reader) error {
	var url string
	var o natshistory.Options
	if _, err := fmt.Sscanf(spec, "%s %s %s", &url, &o.Stream, &o.Prefix); err != nil {
		return fmt.Errorf("%s=%q: %w", nodeEnv, spec, err)
	}
	o.Window = recoveryWindow
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), nodeWait)
	st, err := natshistory.New(ctx, nc, o)
	cancel()
	if err != nil {
		return err
	}
	srv := framework.NewServer(framework.Options{
		Logger:    slog.New(slog.DiscardHandler),
		SendQueue: framework.QueueOptions{MaxMessages: 4000}, // a recovery of every message fits
		Hub:       framework.HubOptions{History: recoveryHistory(st)},
	})
	if err := srv.Register(framework.NewBlueprint("", events.Route[recoveryNode]("/ev"))); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	fmt.Printf("node: ready %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, in)
	cancel()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// node is the parent's handle on a node process.
type node struct {
	addr   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr strings.Builder // read once exited is closed
	exited chan struct{}   // closed when the process is gone
	err    error           // Wait's, once exited is closed
	killed bool
}

// startNode runs a node on the stream of o, on the NATS server at url,
// and returns once it listens. The test's cleanup stops it.
func startNode(t *testing.T, url string, o natshistory.Options) *node {
	t.Helper()
	n := &node{exited: make(chan struct{})}
	n.cmd = exec.Command(os.Args[0], "-test.run=^TestRecoveryNode$", "-test.count=1", "-test.timeout=5m")
	n.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s", nodeEnv, url, o.Stream, o.Prefix))
	n.cmd.Stderr = &n.stderr
	var err error
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop(t) })
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "node: ") {
				select {
				case first <- sc.Text():
				default:
				}
			}
		}
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	select {
	case line := <-first:
		addr, ok := strings.CutPrefix(line, "node: ready ")
		if !ok {
			t.Fatalf("node: %s", line)
		}
		n.addr = addr
	case <-n.exited:
		t.Fatalf("node ended before it was ready: %v\n%s", n.err, n.stderr.String())
	case <-time.After(nodeWait):
		t.Fatalf("node not ready within %v", nodeWait)
	}
	return n
}

// kill ends the node with SIGKILL and waits until it is gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	n.killed = true
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the node: %v", err)
	}
	select {
	case <-n.exited:
	case <-time.After(nodeWait):
		t.Fatalf("node still there %v after SIGKILL", nodeWait)
	}
}

// stop closes the node's input and waits for it to end by itself, and
// reports how it ended; it kills a node that does not.
func (n *node) stop(t *testing.T) {
	if n.killed {
		return
	}
	_ = n.stdin.Close()
	select {
	case <-n.exited:
		if n.err != nil {
			t.Errorf("node: %v\n%s", n.err, n.stderr.String())
		}
	case <-time.After(nodeWait):
		_ = n.cmd.Process.Kill()
		<-n.exited
		t.Errorf("node did not stop within %v; killed it\n%s", nodeWait, n.stderr.String())
	}
}
