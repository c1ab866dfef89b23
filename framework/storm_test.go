package framework_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
)

// This file holds the connection storm of docs/reliability.md: thousands
// of clients open WebSocket connections in bursts, hold them, and close
// them in bursts, twice. The clients run in a child process (this test
// binary again, running TestStormClient), so that the server's heap and
// descriptors are measured alone and each process needs only one
// descriptor per connection. make test runs 2,000 connections; set
// NOWS_SOAK=1 (make soak) or NOWS_STORM_CONNS=N for the full 10,000.

const (
	stormShort = 2000
	stormFull  = 10000
	stormBurst = 500 // connections dialled at once; under net.core.somaxconn
)

// stormConns returns how many connections the storm opens.
func stormConns(t *testing.T) int {
	if v := os.Getenv("NOWS_STORM_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("NOWS_STORM_CONNS=%q: want a positive number", v)
		}
		return n
	}
	if os.Getenv("NOWS_SOAK") == "1" {
		return stormFull
	}
	return stormShort
}

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (Go does
// so at start-up too) and returns it.
func raiseFileLimit(t *testing.T) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Logf("setrlimit: %v", err)
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	return lim.Cur
}

// listenCounters returns the kernel's ListenOverflows and ListenDrops: the
// connections dropped because an accept queue was full.
func listenCounters() (overflows, drops int64) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1, -1
	}
	var names []string
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "TcpExt:")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		for i, v := range strings.Fields(rest) {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case i >= len(names):
			case names[i] == "ListenOverflows":
				overflows = n
			case names[i] == "ListenDrops":
				drops = n
			}
		}
	}
	return overflows, drops
}

// stormHandler echoes and counts its connections.
type stormHandler struct{ closed bool }

var stormOpened, stormClosed, stormDouble atomic.Int64

func (stormHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	stormOpened.Add(1)
	return nil
}

func (stormHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

func (h *stormHandler) OnClose(c *framework.Conn, st framework.CloseStatus) {
	if h.closed {
		stormDouble.Add(1)
	}
	h.closed = true
	stormClosed.Add(1)
}

var stormBP = framework.NewBlueprint("", framework.Route[stormHandler]("/storm"))

func TestStorm(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the storm counts descriptors in /proc")
	}
	n := stormConns(t)
	if lim := raiseFileLimit(t); lim < uint64(n)+500 {
		t.Skipf("RLIMIT_NOFILE is %d: %d connections need %d", lim, n, n+500)
	}
	somaxconn, _ := os.ReadFile("/proc/sys/net/core/somaxconn")
	t.Logf("%d connections in bursts of %d; net.core.somaxconn (Go's listen backlog) = %s", n, stormBurst, strings.TrimSpace(string(somaxconn)))
	checkLeaks(t)
	stormOpened.Store(0)
	stormClosed.Store(0)
	stormDouble.Store(0)
	srv := serve(t, quietOptions(framework.Options{}), stormBP)
	overflows0, drops0 := listenCounters()

	cmd := exec.Command(os.Args[0], "-test.run=^TestStormClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("NOWS_STORM_CLIENT=%s %d %d", srv.Addr, n, stormBurst))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		_ = stdin.Close()
		for range lines { // until the child closes its output
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("storm client: %v\n%s", err, stderr.String())
		}
	}()
	expect := func(prefix string) string {
		t.Helper()
		timeout := time.After(time.Duration(n/50+60) * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("storm client ended before %q:\n%s", prefix, stderr.String())
				}
				if strings.HasPrefix(line, "storm: error") {
					t.Fatalf("storm client: %s", line)
				}
				if strings.HasPrefix(line, prefix) {
					return line
				}
			case <-timeout:
				t.Fatalf("storm client: no %q in time", prefix)
			}
		}
	}

	const cycles = 2
	for cycle := range cycles {
		heap := watchHeap()
		g0 := runtime.NumGoroutine()
		if _, err := io.WriteString(stdin, "open\n"); err != nil {
			t.Fatal(err)
		}
		opened := expect("storm: open")
		held := stormOpened.Load() - stormClosed.Load()
		if held != int64(n) {
			t.Fatalf("cycle %d: the server holds %d connections, want %d", cycle, held, n)
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		perConn := (int64(m.HeapAlloc) - int64(heap.base)) / int64(n)
		goroutines := runtime.NumGoroutine() - g0
		growth := heap.peakGrowth()
		t.Logf("cycle %d: %s; server holds %d: live heap +%d KiB/conn, peak heap growth %s, +%d goroutines, VmRSS %s",
			cycle, strings.TrimPrefix(opened, "storm: "), held, perConn>>10, mib(growth), goroutines, mib(procStatus("VmRSS")))
		// coder and nows cost about 14 KiB of heap per idle connection.
		if perConn > 48<<10 {
			t.Errorf("cycle %d: %d KiB of heap per idle connection, want under 48", cycle, perConn>>10)
		}
		if _, err := io.WriteString(stdin, "close\n"); err != nil {
			t.Fatal(err)
		}
		closed := expect("storm: closed")
		within(t, time.Duration(n/100+30)*time.Second, "every connection closed on the server", func() bool {
			return stormOpened.Load() == stormClosed.Load()
		})
		t.Logf("cycle %d: %s", cycle, strings.TrimPrefix(closed, "storm: "))
	}
	if d := stormDouble.Load(); d != 0 {
		t.Errorf("OnClose ran twice for %d connections", d)
	}
	if got, want := stormOpened.Load(), int64(cycles*n); got != want {
		t.Errorf("OnOpen ran %d times, want %d", got, want)
	}
	overflows1, drops1 := listenCounters()
	t.Logf("listen queue overflows %d, drops %d during the storm", overflows1-overflows0, drops1-drops0)
	if overflows1-overflows0 != 0 || drops1-drops0 != 0 {
		t.Errorf("the listen queue dropped connections: %d overflows, %d drops", overflows1-overflows0, drops1-drops0)
	}
}

// TestStormClient is the client side of TestStorm, run in a child
// process. On each "open" line from its input it opens the connections in
// bursts, echoes one message on each and reports "storm: open"; on the
// next line it closes them in bursts (half with the close handshake, half
// abruptly) and reports "storm: closed". It ends with its input.
func TestStormClient(t *testing.T) {
	spec := os.Getenv("NOWS_STORM_CLIENT")
	if spec == "" {
		t.Skip("run by TestStorm")
	}
	var addr string
	var n, burst int
	if _, err := fmt.Sscanf(spec, "%s %d %d", &addr, &n, &burst); err != nil {
		t.Fatalf("NOWS_STORM_CLIENT=%q: %v", spec, err)
	}
	raiseFileLimit(t)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() && in.Text() == "open" {
		start := time.Now()
		conns, err := stormOpenAll(addr, n, burst)
		if err != nil {
			fmt.Printf("storm: error %v\n", err)
			stormCloseAll(conns, burst)
			return
		}
		fmt.Printf("storm: open %d connections in %v (%.0f/s)\n", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
		if !in.Scan() {
			stormCloseAll(conns, burst)
			return
		}
		start = time.Now()
		stormCloseAll(conns, burst)
		fmt.Printf("storm: closed %d connections in %v\n", n, time.Since(start).Round(time.Millisecond))
	}
}

// stormConn is one client connection of the storm.
type stormConn struct {
	nc net.Conn
	br *bufio.Reader
}

// stormOpenAll opens n connections, burst at a time, each upgraded and
// checked with one echo.
func stormOpenAll(addr string, n, burst int) ([]*stormConn, error) {
	conns := make([]*stormConn, n)
	var failed atomic.Value
	for start := 0; start < n; start += burst {
		var wg sync.WaitGroup
		for i := start; i < min(start+burst, n); i++ {
			wg.Go(func() {
				c, err := stormOpen(addr, i)
				if err != nil {
					failed.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					return
				}
				conns[i] = c
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			return conns, err
		}
	}
	return conns, nil
}

func stormOpen(addr string, i int) (*stormConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*rawTimeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(4 * rawTimeout))
	c := &stormConn{nc: nc, br: bufio.NewReaderSize(nc, 512)}
	if _, err := io.WriteString(nc, upgradeRequest(addr, "/storm")); err != nil {
		nc.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("got status %d, want 101", resp.StatusCode)
	}
	msg := "hello " + strconv.Itoa(i)
	if _, err := nc.Write(encodeFrame(rawFrame{fin: true, op: opText, payload: []byte(msg)}, false)); err != nil {
		nc.Close()
		return nil, err
	}
	rc := &rawConn{nc: nc, br: c.br}
	f, err := rc.readFrame()
	if err != nil || f.op != opText || string(f.payload) != msg {
		nc.Close()
		return nil, fmt.Errorf("echo: got op %d %q, %v", f.op, f.payload, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// stormCloseAll closes the connections, burst at a time: even ones with
// the close handshake, odd ones abruptly.
func stormCloseAll(conns []*stormConn, burst int) {
	for start := 0; start < len(conns); start += burst {
		var wg sync.WaitGroup
		for i := start; i < min(start+burst, len(conns)); i++ {
			c := conns[i]
			if c == nil {
				continue
			}
			wg.Go(func() {
				defer c.nc.Close()
				if i%2 == 1 {
					return
				}
				_ = c.nc.SetDeadline(time.Now().Add(2 * rawTimeout))
				if _, err := c.nc.Write(encodeFrame(rawFrame{fin: true, op: opClose, payload: closePayload(1000, "")}, false)); err != nil {
					return
				}
				rc := &rawConn{nc: c.nc, br: c.br}
				for {
					f, err := rc.readFrame()
					if err != nil || f.op == opClose {
						break
					}
				}
				// Wait for the server's FIN, as a client should.
				_, err := io.Copy(io.Discard, c.br)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					fmt.Printf("storm: error connection %d not closed by the server\n", i)
				}
			})
		}
		wg.Wait()
	}
}
