package framework_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// TestIdleMemory measures what an idle connection costs the server: N
// connections (NOWS_IDLE_MEM=N) are held by a child process (this test
// binary again, running TestFanOutChildClient, which dials /fanout and
// waits), and the server's runtime.MemStats before and after are compared.
// NOWS_IDLE_MEM_PROF=file also writes a heap profile (in-use space) taken
// while the connections are held. It does not run by default:
//
//	NOWS_IDLE_MEM=5000 go test -run '^TestIdleMemory$' -v ./framework/
func TestIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NOWS_IDLE_MEM"))
	if n <= 0 {
		t.Skip("set NOWS_IDLE_MEM=N to hold N idle connections")
	}
	raiseFileLimit(t)
	if os.Getenv("NOWS_IDLE_MEM_PROF") != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1 // every allocation, for exact sizes
	}
	var open atomic.Int64
	bp := framework.NewBlueprint("", framework.RouteFunc("/fanout", func() *idleHandler {
		return &idleHandler{open: &open}
	}))
	srv := wstest.NewServerOptions(t, framework.Options{Logger: slog.New(slog.DiscardHandler)}, bp)

	before := settledMemStats()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFanOutChildClient$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("NOWS_FANOUT_CLIENT=%s %d", srv.Addr, n), "NOWS_IDLE_MEM=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line == "fanout: ready" {
			break
		}
		if strings.HasPrefix(line, "fanout: error") {
			t.Fatal(line)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for open.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := open.Load(); got != int64(n) {
		t.Fatalf("%d connections open, want %d", got, n)
	}
	time.Sleep(500 * time.Millisecond) // let the handshake goroutines end
	after := settledMemStats()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
	t.Logf("%d idle connections, per connection (KiB): HeapInuse %.2f  HeapAlloc %.2f  StackInuse %.2f  Sys %.2f  objects %.1f  goroutines %.2f  RSS %.2f",
		n, per(after.HeapInuse, before.HeapInuse), per(after.HeapAlloc, before.HeapAlloc),
		per(after.StackInuse, before.StackInuse), per(after.Sys, before.Sys),
		(float64(after.HeapObjects)-float64(before.HeapObjects))/float64(n),
		float64(after.goroutines-before.goroutines)/float64(n), per(after.rss, before.rss))
	t.Logf("the rest of Sys, per connection (KiB): heap free, not returned %.2f  StackSys-StackInuse %.2f  MSpanSys %.2f  GCSys %.2f  OtherSys %.2f",
		per(after.HeapIdle-after.HeapReleased, before.HeapIdle-before.HeapReleased), per(after.StackSys-after.StackInuse, before.StackSys-before.StackInuse),
		per(after.MSpanSys, before.MSpanSys), per(after.GCSys, before.GCSys), per(after.OtherSys, before.OtherSys))
	start := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(start)
	t.Logf("new goroutines start with %d bytes of stack (it follows the average stack in use: Go's adaptivestackstart)", start[0].Value.Uint64())
	if path := os.Getenv("NOWS_IDLE_MEM_PROF"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if path := os.Getenv("NOWS_IDLE_MEM_STACKS"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
			t.Fatal(err)
		}
	}
}

type idleHandler struct{ open *atomic.Int64 }

func (h *idleHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.open.Add(1)
	return nil
}

func (*idleHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error { return nil }

type idleMemStats struct {
	runtime.MemStats
	goroutines int
	rss        uint64
}

func settledMemStats() idleMemStats {
	runtime.GC()
	runtime.GC()
	var s idleMemStats
	runtime.ReadMemStats(&s.MemStats)
	s.goroutines = runtime.NumGoroutine()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				s.rss = kb * 1024
			}
		}
	}
	return s
}
