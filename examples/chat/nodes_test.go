//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nowebsocket/nows/examples/chat/blueprints"
)

// TestThreeNodesLargeMessage runs the chat's real binary as three nodes
// on one nats-server with its default configuration (1 MiB max_payload),
// and sends a 1.5 MiB message from a member on node 1: the members on
// nodes 2 and 3 get it whole.
func TestThreeNodesLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the app")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	natsURL := startNATS(t)
	bin := filepath.Join(t.TempDir(), "chat")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var clients []*websocket.Conn
	for i := range 3 {
		addr := freeAddr(t)
		node := exec.CommandContext(ctx, bin, "--addr", addr, "--admin-addr", "127.0.0.1:0", "--broker", natsURL, "--log-level", "warn")
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
		waitListening(t, addr)
		c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/chat/room/big?name=n%d", addr, i+1), nil)
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		c.SetReadLimit(4 << 20)
		t.Cleanup(func() { _ = c.CloseNow() })
		clients = append(clients, c)
	}
	// Every member sees the others join (across nodes) before the
	// message goes: then each node is subscribed to the room.
	for i, c := range clients {
		waiting := map[string]bool{}
		for j := i; j < len(clients); j++ {
			waiting[fmt.Sprintf("n%d", j+1)] = true
		}
		for len(waiting) > 0 {
			if ev := read(ctx, t, c); ev.Type == "join" {
				delete(waiting, ev.Name)
			}
		}
	}
	text := strings.Repeat("0123456789abcdef", 3<<15)[:3<<19] // 1.5 MiB
	if err := clients[0].Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients[1:] {
		ev := read(ctx, t, c)
		for ev.Type != "message" {
			ev = read(ctx, t, c)
		}
		if ev.Name != "n1" || ev.Text != text {
			t.Fatalf("node %d got a message of %d bytes from %q, want the 1.5 MiB from n1", i+2, len(ev.Text), ev.Name)
		}
	}
}

// read returns the next event c receives.
func read(ctx context.Context, t *testing.T, c *websocket.Conn) blueprints.Event {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev blueprints.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// startNATS starts nats-server in this process with its defaults.
func startNATS(t *testing.T) string { return serveNATS(t, &server.Options{}) }

// startJetStream starts nats-server with JetStream in this process, its
// store in a temporary directory.
func startJetStream(t *testing.T) string {
	return serveNATS(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
}

// serveNATS runs nats-server with o on a free 127.0.0.1 port until the
// test ends, and returns its URL.
func serveNATS(t *testing.T, o *server.Options) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(freeAddr(t))
	o.Host, o.NoLog, o.NoSigs = host, true, true
	o.Port, _ = strconv.Atoi(port)
	ns, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return "nats://" + net.JoinHostPort(host, port)
}

// freeAddr returns a 127.0.0.1 address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is not listening", addr)
}
