package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nowebsocket/nows/cli/internal/generate"
	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/ui"
	"github.com/nowebsocket/nows/templates"
)

func TestListenAddr(t *testing.T) {
	t.Setenv("NOWS_ADDR", "")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:8765"},
		{[]string{"--addr", "127.0.0.1:9000"}, "127.0.0.1:9000"},
		{[]string{"-addr=:9001", "--log-level", "debug"}, "127.0.0.1:9001"},
		{[]string{"--addr", "[::1]:9002"}, "[::1]:9002"},
		{[]string{"--", "--addr", "127.0.0.1:1"}, "127.0.0.1:8765"},
	}
	for _, tt := range tests {
		if got := listenAddr(tt.args); got != tt.want {
			t.Errorf("listenAddr(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// output collects what the runner prints and lets a test wait for a line.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// wait returns once the output has count occurrences of s, or fails the
// test when ctx ends first.
func (o *output) wait(ctx context.Context, t *testing.T, s string, count int) {
	t.Helper()
	for {
		o.mu.Lock()
		n, ch := strings.Count(o.buf.String(), s), o.changed
		o.mu.Unlock()
		if n >= count {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			o.mu.Lock()
			defer o.mu.Unlock()
			t.Fatalf("waiting for %d× %q: %v; output:\n%s", count, s, ctx.Err(), o.buf.String())
		}
	}
}

// TestWatchBuildError checks that a change that does not build leaves the
// old app serving, and that the next good change restarts it.
func TestWatchBuildError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a project")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, file, _, _ := runtime.Caller(0)
	checkout := filepath.Join(filepath.Dir(file), "..", "..", "..")
	dir := filepath.Join(t.TempDir(), "app")
	quiet := ui.New(io.Discard, io.Discard, true)
	if err := generate.New(ctx, quiet, templates.FS, generate.NewOptions{Dir: dir, Dev: checkout}); err != nil {
		t.Fatal(err)
	}
	p, err := project.Find(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	out := newOutput()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{
			Root: p.Root, Blueprints: p.Blueprints, Args: []string{"--addr", addr}, Watch: true,
			UI: ui.New(out, out, true), Stdout: io.Discard, Stderr: io.Discard,
			Debounce: 50 * time.Millisecond,
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	out.wait(ctx, t, "run  app", 1)
	echo(ctx, t, addr, "one")

	broken := filepath.Join(p.Blueprints, "broken_bp.go")
	if err := os.WriteFile(broken, []byte("package blueprints\n\nvar Broken int = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.wait(ctx, t, "go build failed", 1)
	out.wait(ctx, t, "still running the previous build", 1)
	echo(ctx, t, addr, "two") // the old app still serves

	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	out.wait(ctx, t, "restart (clients are closed with 1012)", 1)
	out.wait(ctx, t, "run  app", 2)
	echo(ctx, t, addr, "three")
}

// echo checks that /echo on addr echoes text, dialling until it answers.
func echo(ctx context.Context, t *testing.T, addr, text string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var c *websocket.Conn
	for {
		var err error
		if c, _, err = websocket.Dial(ctx, "ws://"+addr+"/echo", nil); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dial %s: %v", addr, err)
		case <-tick.C:
		}
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != text {
		t.Fatalf("echo: got %q, %v, want %q", got, err, text)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// TestWatchAppExits: when the app exits by itself (a port in use, a bad
// flag), nows run --watch says so, with its status, and that it waits for
// a change; the next change rebuilds and starts it again.
func TestWatchAppExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module exits\n\ngo 1.22\n")
	write("blueprints/deps.go", "package blueprints\n\ntype Deps struct{}\n")
	exitWith := func(code int) string {
		return fmt.Sprintf("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stderr, \"listen: address already in use\")\n\tos.Exit(%d)\n}\n", code)
	}
	write("main.go", exitWith(3))

	out := newOutput()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{
			Root: root, Blueprints: filepath.Join(root, "blueprints"), Watch: true,
			UI: ui.New(out, out, true), Stdout: io.Discard, Stderr: io.Discard,
			Debounce: 50 * time.Millisecond,
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	out.wait(ctx, t, "the app exited by itself, with status 3 (see its output above)", 1)
	out.wait(ctx, t, "nows is waiting for a change to rebuild and restart it (Ctrl-C to stop)", 1)
	write("main.go", exitWith(4))
	out.wait(ctx, t, "the app exited by itself, with status 4", 1)
}
