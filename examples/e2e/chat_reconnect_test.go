package e2e

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestChatPageReconnect runs the chat's real binary, opens its page in two
// tabs, and restarts the server on the same address: nows.js reconnects
// both pages by itself (the path joins the room again) and they exchange
// messages as before.
func TestChatPageReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chat app")
	}
	bin := buildExample(t, "../chat")
	addr := freeAddr(t)
	app := startApp(t, bin, addr)
	url := "http://" + addr

	alice := openChat(t, url, "alice", "lobby")
	bob := openChat(t, url, "bob", "lobby")
	run(t, alice.ctx, "alice sees bob join", waitText("#members", "In lobby: alice, bob"))
	run(t, alice.ctx, "alice says hello", say("before the restart"), waitText("#sent", "Sent 1 message"))
	run(t, bob.ctx, "bob sees it", waitText("#log", "alice: before the restart"))

	// SIGINT: the server closes every WebSocket with 1001 before it exits
	// (which can take 5 s: http.Server.Shutdown waits that long for a
	// connection Chromium opened ahead and never used). nows.js retries
	// meanwhile, and the page caps its backoff at 5 s.
	app.stop(t)
	for _, tab := range []chatTab{alice, bob} {
		run(t, tab.ctx, "the page sees the close", waitText("#log", "connection lost (1001"))
	}
	startApp(t, bin, addr)
	for _, tab := range []chatTab{alice, bob} {
		run(t, tab.ctx, "the page is back",
			waitText("#log", "reconnected"),
			waitText("#status", "Connected to room lobby."),
		)
	}
	run(t, alice.ctx, "alice sees both back", waitText("#members", "In lobby: alice, bob"))
	run(t, bob.ctx, "bob says hi", say("after the restart"))
	run(t, alice.ctx, "alice sees it", waitText("#log", "bob: after the restart"))
	run(t, alice.ctx, "alice answers", say("welcome back"), waitText("#sent", "Sent 1 message"))
	run(t, bob.ctx, "bob sees it", waitText("#log", "alice: welcome back"))
	screenshot(t, alice.ctx, "chat-alice-after-restart.png")
}

// buildExample builds the main package in dir into a temporary directory.
func buildExample(t *testing.T, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// app is an example's process.
type app struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startApp runs bin on addr, alone (no broker), with more flags args,
// and waits until it listens. The test's end kills it if it still runs.
func startApp(t *testing.T, bin, addr string, args ...string) *app {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", addr, "--admin-addr", "127.0.0.1:0", "--broker", "", "--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &app{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(a.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-a.done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v", filepath.Base(bin), addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGINT and waits for the process to end.
func (a *app) stop(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
	case <-time.After(15 * time.Second):
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatal("the app did not stop within 15s of SIGINT")
	}
}

// freeAddr returns a 127.0.0.1 address with a port free now, for a
// server that may start minutes later (the tutorial's nodes). The
// port is below Linux's ephemeral range (32768 and up), where Listen on
// port 0 would pick it: a port from that range can be taken meanwhile as
// the local port of any outgoing connection, and the server then cannot
// listen (TestTutorial failed so once in CI).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+rand.IntN(12000)))
		if err == nil {
			defer ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port in 127.0.0.1:20000-31999 after 1,000 tries")
	return ""
}
