package framework_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// pidHandler tells each client which process accepted it.
type pidHandler struct{}

func (pidHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, strconv.Itoa(os.Getpid()))
}

func (pidHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return nil
}

var pidBP = framework.NewBlueprint("", framework.Route[pidHandler]("/pid"))

// reusePortDials bounds the connections TestReusePort dials before both
// processes have accepted one: the kernel picks a socket by a hash of the
// client's port, so one process alone gets 200 of them once in 2^199.
const reusePortDials = 200

// TestReusePort runs two nows processes (this test binary again, running
// TestReusePortChild) on one 127.0.0.1 port with Options.ReusePort, the
// first set by NOWS_REUSE_PORT, the second by --reuse-port; a client dials
// until both have accepted connections. A third server without ReusePort
// cannot listen there, nor can one with it on a port held without it.
func TestReusePort(t *testing.T) {
	first := startReusePortChild(t, "NOWS_REUSE_PORT=true", "--addr", "127.0.0.1:0")
	addr := first.waitListening(t)
	second := startReusePortChild(t, "", "--addr", addr, "--reuse-port")
	if got := second.waitListening(t); got != addr {
		t.Fatalf("the second process listens on %s, want %s", got, addr)
	}

	seen := map[string]int{}
	for i := 0; i < reusePortDials && len(seen) < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/pid", nil)
		if err != nil {
			cancel()
			t.Fatalf("dial %d: %v", i, err)
		}
		_, msg, err := c.Read(ctx)
		c.CloseNow()
		cancel()
		if err != nil {
			t.Fatalf("connection %d: read: %v", i, err)
		}
		seen[string(msg)]++
	}
	for _, ch := range []*reusePortChild{first, second} {
		if seen[strconv.Itoa(ch.cmd.Process.Pid)] == 0 {
			t.Fatalf("process %d accepted none of %v connections (accepted, by pid: %v)", ch.cmd.Process.Pid, reusePortDials, seen)
		}
	}
	t.Logf("connections accepted, by pid: %v", seen)

	quiet := slog.New(slog.DiscardHandler)
	// Bounded: a server that listened after all would serve until then.
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	err := framework.NewServer(framework.Options{Addr: addr, Logger: quiet}).ListenAndServe(ctx)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) ||
		!strings.Contains(err.Error(), "listen on "+addr+": the address is in use by another process: stop it, or choose another address with Options.Addr") {
		t.Errorf("without ReusePort on the shared port: %v, want the address-in-use error", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0") // without SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := ln.Addr().String()
	err = framework.NewServer(framework.Options{Addr: held, ReusePort: true, Logger: quiet}).ListenAndServe(ctx)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) ||
		!strings.Contains(err.Error(), "listen on "+held+": the address is in use by a process that does not share it: give every process on it Options.ReusePort (the --reuse-port flag") {
		t.Errorf("with ReusePort on a port held without it: %v, want the error that says every process needs ReusePort", err)
	}

	first.stop(t)
	second.stop(t)
}

// reusePortChild is a process running TestReusePortChild.
type reusePortChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *logBuffer // stdout: the server's JSON log, then PASS
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startReusePortChild starts TestReusePortChild with the flags args for
// BindFlags and, unless env is "", the variable env.
func startReusePortChild(t *testing.T, env string, args ...string) *reusePortChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReusePortChild$", "-test.count=1", "-test.timeout=2m")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NOWS_REUSEPORT_CHILD="+strings.Join(args, " "))
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	ch := &reusePortChild{cmd: cmd, out: new(logBuffer), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ch.out, ch.out
	var err error
	if ch.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		ch.err = cmd.Wait()
		close(ch.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-ch.exited:
		default:
			_ = cmd.Process.Kill()
			<-ch.exited
		}
	})
	return ch
}

// waitListening returns the address the child's server listens on, from
// its "nows: listening" log line.
func (ch *reusePortChild) waitListening(t *testing.T) string {
	t.Helper()
	deadline := time.After(30 * time.Second) // a race-enabled binary starting
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		sc := bufio.NewScanner(strings.NewReader(ch.out.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "nows: listening" {
				return strings.TrimPrefix(line.Addr, "ws://")
			}
		}
		select {
		case <-ch.exited:
			t.Fatalf("the child exited (%v) before listening:\n%s", ch.err, ch.out)
		case <-deadline:
			t.Fatalf("the child did not listen within 30 s:\n%s", ch.out)
		case <-tick.C:
		}
	}
}

// stop ends the child's input, which shuts its server down, and expects
// it to pass.
func (ch *reusePortChild) stop(t *testing.T) {
	t.Helper()
	ch.stdin.Close()
	select {
	case <-ch.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the child did not stop within 30 s of its input's end:\n%s", ch.out)
	}
	if ch.err != nil || !strings.Contains(ch.out.String(), "reuseport child: served") {
		t.Fatalf("the child: %v:\n%s", ch.err, ch.out)
	}
}

// TestReusePortChild is the server side of TestReusePort, run in a child
// process: framework.Run with the flags in NOWS_REUSEPORT_CHILD, logging
// JSON to stdout, until its input ends.
func TestReusePortChild(t *testing.T) {
	args := os.Getenv("NOWS_REUSEPORT_CHILD")
	if args == "" {
		t.Skip("run by TestReusePort")
	}
	opts := framework.Options{Logger: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse(strings.Fields(args)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := framework.Run(ctx, framework.NewServer(opts), pidBP); err != nil {
		t.Fatalf("Run: %v", err) // at once: the parent waits for a log line
	}
	<-stdinDone
	fmt.Println("reuseport child: served")
}
