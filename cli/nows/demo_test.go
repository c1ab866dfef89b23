//go:build unix

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestMakeDemo runs make demo, as a developer does, on a free port: it
// prints the address it binds, serves the demo app, and when it is stopped
// (Ctrl-C to the whole process group, or TERM to make alone) removes the
// temporary directory it made.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nows and runs a generated project")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	checkout, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	tests := []struct {
		name  string
		group bool // signal the whole process group, as a terminal does on Ctrl-C
		sig   syscall.Signal
	}{
		{"ctrl-c", true, syscall.SIGINT},
		{"term-to-make", false, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir() // TMPDIR: where mktemp makes the demo's directory
			addr := "127.0.0.1:" + freePort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()

			cmd := exec.Command("make", "-s", "-C", checkout, "demo", "ADDR="+addr, "BIN="+bin)
			// The demo app's admin listener on a free port: 8766 may be busy.
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "NO_COLOR=1", "GOTOOLCHAIN=local", "GOWORK=off", "NOWS_ADMIN_ADDR=127.0.0.1:0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}()

			echoDemo(ctx, t, addr, exited, &out)
			want := "demo: binding " + addr + ": page at http://" + addr + "/, WebSocket at ws://" + addr + "/echo"
			if !strings.Contains(out.String(), want) {
				t.Errorf("make demo does not print the address it binds (%q); output:\n%s", want, out.String())
			}

			if tt.group {
				syscall.Kill(-cmd.Process.Pid, tt.sig)
			} else {
				cmd.Process.Signal(tt.sig)
			}
			select {
			case <-exited:
			case <-time.After(time.Minute):
				t.Fatalf("make demo did not stop within a minute of %v; output:\n%s", tt.sig, out.String())
			}
			entries, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("make demo left %s in its TMPDIR after %v; output:\n%s", strings.Join(names, ", "), tt.sig, out.String())
			}
			if !strings.Contains(out.String(), "demo: removed ") {
				t.Errorf("make demo does not say it removed its directory; output:\n%s", out.String())
			}
		})
	}
}

// echoDemo waits until the demo app echoes on addr, failing when make exits
// first.
func echoDemo(ctx context.Context, t *testing.T, addr string, exited <-chan error, out *lockedBuffer) {
	t.Helper()
	for {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/echo", nil)
		if err == nil {
			defer c.CloseNow()
			if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.Read(ctx); err != nil || string(got) != "hi" {
				t.Fatalf("echo: got %q, %v", got, err)
			}
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("make demo exited (%v) before serving; output:\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("make demo does not serve on %s: %v; output:\n%s", addr, err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
