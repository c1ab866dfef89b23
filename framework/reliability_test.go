package framework_test

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"go.uber.org/goleak"
)

// This file holds the attack tests of docs/reliability.md: each floods a
// server with one kind of hostile client and checks that the server's heap
// stays bounded (with a bound that buffering the attackers' data would
// break), that a normal client keeps getting answers meanwhile, and that no
// goroutine or file descriptor is left. They are not parallel: the heap and
// the descriptors are measured for the whole process.

// mib formats a byte count in MiB.
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// heapWatch samples the process's heap while an attack runs.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

// watchHeap collects garbage, records the live heap as the base and samples
// HeapAlloc every few milliseconds until peakGrowth is called.
func watchHeap() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w := &heapWatch{base: m.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	w.peak.Store(m.HeapAlloc)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > w.peak.Load() {
				w.peak.Store(m.HeapAlloc)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// peakGrowth stops sampling and returns the peak heap above the base.
func (w *heapWatch) peakGrowth() uint64 {
	close(w.stop)
	<-w.done
	if p := w.peak.Load(); p > w.base {
		return p - w.base
	}
	return 0
}

// fdCount returns the number of open file descriptors of the process.
func fdCount(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// procStatus returns a field of /proc/self/status in bytes (VmRSS, VmHWM),
// or 0.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// checkLeaks records the goroutines and file descriptors of now; when the
// test and its other cleanups (the servers' shutdown) have finished, it
// fails the test unless both are back, waiting a bounded time for sockets
// to close. Call it first in the test, before serving.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	base := fdCount(t)
	t.Cleanup(func() {
		goleak.VerifyNone(t, ignore)
		deadline := time.Now().Add(2 * rawTimeout)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for n := fdCount(t); n > base; n = fdCount(t) {
			if time.Now().After(deadline) {
				t.Errorf("got %d open file descriptors, want at most %d as before the test", n, base)
				return
			}
			<-tick.C
		}
	})
}

// within polls cond every few milliseconds until it holds, failing the
// test after d: eventually with a bound for work that scales with the
// number of connections.
func within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}

// echoer is a well-behaved client that keeps exchanging messages with
// /echo while an attack runs, to show that the server keeps serving.
type echoer struct {
	rounds atomic.Int64
	slow   atomic.Int64 // the slowest round, in ns
	err    error
	stop   chan struct{}
	done   chan struct{}
}

// startEchoer connects to addr's /echo and exchanges a message every few
// milliseconds until stopEchoer.
func startEchoer(t *testing.T, addr string) *echoer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/echo", nil)
	if err != nil {
		t.Fatalf("echo client: dial: %v", err)
	}
	e := &echoer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		defer ws.CloseNow()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-e.stop:
				_ = ws.Close(websocket.StatusNormalClosure, "") // bounded by coder (5 s)
				return
			case <-tick.C:
			}
			start := time.Now()
			// Generous: the test shows the server keeps answering, on a CI
			// machine that may be busy with other packages' tests.
			ctx, cancel := context.WithTimeout(context.Background(), 4*rawTimeout)
			msg := "round " + strconv.Itoa(i)
			err := ws.Write(ctx, websocket.MessageText, []byte(msg))
			var got []byte
			if err == nil {
				_, got, err = ws.Read(ctx)
			}
			cancel()
			if err == nil && string(got) != msg {
				err = fmt.Errorf("got %q, want %q", got, msg)
			}
			if err != nil {
				e.err = fmt.Errorf("echo round %d: %w", i, err)
				return
			}
			if d := int64(time.Since(start)); d > e.slow.Load() {
				e.slow.Store(d)
			}
			e.rounds.Add(1)
		}
	}()
	return e
}

// waitRounds waits until the echoer has done n more rounds.
func (e *echoer) waitRounds(t *testing.T, n int64) {
	t.Helper()
	want := e.rounds.Load() + n
	within(t, 4*rawTimeout, "echo rounds during the attack", func() bool {
		select {
		case <-e.done:
			return true
		default:
		}
		return e.rounds.Load() >= want
	})
	select {
	case <-e.done:
		t.Fatalf("the echo client stopped during the attack: %v", e.err)
	default:
	}
}

// stopEchoer stops the echoer and fails the test if a round failed.
func (e *echoer) stopEchoer(t *testing.T) {
	t.Helper()
	close(e.stop)
	<-e.done
	if e.err != nil {
		t.Fatalf("the echo client failed during the attack: %v", e.err)
	}
	t.Logf("echo client: %d rounds during the attack, slowest %v", e.rounds.Load(), time.Duration(e.slow.Load()).Round(time.Millisecond))
}

// readCloseCode reads frames until the server's close frame and returns
// its code; it is safe to call from any goroutine (one per connection).
func readCloseCode(c *rawConn) (websocket.StatusCode, error) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return 0, err
		}
		if f.op == opClose {
			code, _ := parseClose(f.payload)
			return code, nil
		}
	}
}

// attack runs one goroutine per connection with send, which writes the
// attack (its errors are expected once the server closes), while each
// connection waits for the server's close frame, which must carry want.
func attack(t *testing.T, conns []*rawConn, want websocket.StatusCode, send func(c *rawConn)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Go(func() {
			_ = c.nc.SetWriteDeadline(time.Now().Add(2 * rawTimeout))
			go send(c) // ends with the write deadline at the latest
			code, err := readCloseCode(c)
			switch {
			case err != nil:
				errs <- fmt.Errorf("attacker %d: got %v, want close %v", i, err, want)
			case code != want:
				errs <- fmt.Errorf("attacker %d: got close %v, want %v", i, code, want)
			}
			_ = c.nc.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// dialAttackers upgrades n raw connections to path.
func dialAttackers(t *testing.T, addr, path string, n int, extra ...string) []*rawConn {
	t.Helper()
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = dialRaw(t, addr, path, extra...)
	}
	return conns
}

// quietOptions are test options whose logger drops the debug lines a
// thousand attackers would write.
func quietOptions(opts framework.Options) framework.Options {
	if opts.Logger == nil {
		opts.Logger = (&logBuffer{}).logger()
	}
	return opts
}

// writeAll writes the chunks to c repeatedly until total bytes are out or
// a write fails (the server has closed).
func writeAll(c *rawConn, chunk []byte, total int) {
	for sent := 0; sent < total; sent += len(chunk) {
		if _, err := c.nc.Write(chunk); err != nil {
			return
		}
	}
}

// A frame header that announces a huge message is refused at once: the
// payload that follows is never buffered.
func TestAttackHugeFrameHeader(t *testing.T) {
	checkLeaks(t)
	const (
		attackers = 100
		sendEach  = 8 << 20 // payload each attacker streams after the header
	)
	srv := serve(t, quietOptions(framework.Options{})) // MaxMessageBytes: 2 MiB
	conns := dialAttackers(t, srv.Addr, "/echo", attackers)
	chunk := make([]byte, 64<<10)
	e := startEchoer(t, srv.Addr)
	heap := watchHeap()
	attack(t, conns, websocket.StatusMessageTooBig, func(c *rawConn) {
		if _, err := c.nc.Write(frameHeader(true, 0, opBinary, 1<<40, []byte{1, 2, 3, 4})); err != nil {
			return
		}
		writeAll(c, chunk, sendEach)
	})
	e.waitRounds(t, 3)
	growth := heap.peakGrowth()
	e.stopEchoer(t)
	// Buffering what the headers announce up to the limit would take
	// attackers × 2 MiB = 200 MiB.
	const bound = 32 << 20
	t.Logf("%d attackers announcing 1 TiB each: peak heap growth %s (bound %s)", attackers, mib(growth), mib(bound))
	if growth > bound {
		t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(bound))
	}
}

// Fragments whose sum exceeds MaxMessageBytes close the connection when
// the fragment header that crosses the limit arrives.
func TestAttackFragmentFlood(t *testing.T) {
	checkLeaks(t)
	const (
		attackers = 50
		limit     = 64 << 10
		fragment  = 8 << 10
		sendEach  = 16 << 20
	)
	srv := serve(t, quietOptions(framework.Options{MaxMessageBytes: limit}))
	conns := dialAttackers(t, srv.Addr, "/echo", attackers)
	first := encodeFrame(rawFrame{op: opBinary, payload: make([]byte, fragment)}, false)
	cont := encodeFrame(rawFrame{op: opCont, payload: make([]byte, fragment)}, false)
	e := startEchoer(t, srv.Addr)
	heap := watchHeap()
	attack(t, conns, websocket.StatusMessageTooBig, func(c *rawConn) {
		if _, err := c.nc.Write(first); err != nil {
			return
		}
		writeAll(c, cont, sendEach)
	})
	e.waitRounds(t, 3)
	growth := heap.peakGrowth()
	e.stopEchoer(t)
	// Legitimately buffered: at most attackers × limit (×2 for append
	// growth) = 6 MiB. Without the limit: attackers × 16 MiB = 800 MiB.
	const bound = 32 << 20
	t.Logf("%d attackers sending 16 MiB of fragments each (limit 64 KiB): peak heap growth %s (bound %s)", attackers, mib(growth), mib(bound))
	if growth > bound {
		t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(bound))
	}
}

// deflateBomb returns a permessage-deflate payload that inflates to size
// bytes of zeros: one compressed, sync-flushed MiB repeated (each copy only
// refers to zeros, so the stream stays valid), without the final 00 00 ff
// ff that the receiver adds back.
func deflateBomb(t *testing.T, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	bomb := bytes.Repeat(buf.Bytes(), size>>20)
	// Check that it really inflates to size bytes.
	n, err := io.Copy(io.Discard, flate.NewReader(io.MultiReader(bytes.NewReader(bomb), bytes.NewReader([]byte{1, 0, 0, 0xff, 0xff}))))
	if err != nil || n != int64(size) {
		t.Fatalf("bomb inflates to %d bytes, %v; want %d", n, err, size)
	}
	return bytes.TrimSuffix(bomb, []byte{0, 0, 0xff, 0xff})
}

// With compression on, the limit applies to the inflated message: a small
// frame that inflates to far more than MaxMessageBytes closes with 1009
// after at most the limit has been inflated.
func TestAttackDeflateBomb(t *testing.T) {
	checkLeaks(t)
	const (
		attackers = 50
		limit     = 256 << 10
		inflated  = 64 << 20
	)
	srv := serve(t, quietOptions(framework.Options{Compression: true, MaxMessageBytes: limit}))
	ext := "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover"
	conns := dialAttackers(t, srv.Addr, "/echo", attackers, ext)
	bomb := encodeFrame(rawFrame{fin: true, rsv: 0x40, op: opBinary, payload: deflateBomb(t, inflated)}, false)
	t.Logf("bomb: %d bytes on the wire, %d MiB inflated", len(bomb), inflated>>20)
	e := startEchoer(t, srv.Addr)
	heap := watchHeap()
	attack(t, conns, websocket.StatusMessageTooBig, func(c *rawConn) { _, _ = c.nc.Write(bomb) })
	e.waitRounds(t, 3)
	growth := heap.peakGrowth()
	e.stopEchoer(t)
	// Legitimately buffered: attackers × limit (×2) = 25 MiB. Inflating
	// the bombs: attackers × 64 MiB = 3.2 GiB.
	const bound = 64 << 20
	t.Logf("%d deflate bombs of %d MiB (limit 256 KiB): peak heap growth %s (bound %s)", attackers, inflated>>20, mib(growth), mib(bound))
	if growth > bound {
		t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(bound))
	}
}

// holdHandshakes opens n TCP connections to addr, writes head on each
// (with a byte every dribble when dribble is positive) and returns when
// every connection has been closed by the server, reporting the longest a
// connection was held. It fails the test if one is held for 2×rawTimeout.
func holdHandshakes(t *testing.T, addr string, n int, head []byte, dribble time.Duration) (longest time.Duration) {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, nc := range conns {
			_ = nc.Close()
		}
	}()
	for range n {
		nc, err := net.DialTimeout("tcp", addr, rawTimeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, nc)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held []time.Duration
	failed := atomic.Int64{}
	for _, nc := range conns {
		wg.Go(func() {
			_ = nc.SetDeadline(time.Now().Add(2 * rawTimeout))
			if dribble <= 0 {
				_, _ = nc.Write(head)
			} else {
				go func() {
					tick := time.NewTicker(dribble)
					defer tick.Stop()
					for i := range head {
						if _, err := nc.Write(head[i : i+1]); err != nil {
							return
						}
						<-tick.C
					}
				}()
			}
			// The server answers nothing (or a 408) and closes.
			_, err := io.Copy(io.Discard, nc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				failed.Add(1)
			}
			mu.Lock()
			held = append(held, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d connections still open after %v", n, 2*rawTimeout)
	}
	for _, d := range held {
		longest = max(longest, d)
	}
	return longest
}

// Half-open handshakes (a request that never ends) and slowloris clients
// (one byte at a time) are closed by HandshakeTimeout; meanwhile they cost
// a few KiB each and the server keeps serving.
func TestAttackSlowHandshakes(t *testing.T) {
	testCases := []struct {
		name    string
		conns   int
		dribble time.Duration
		bound   uint64
	}{
		{"half-open", 1000, 0, 64 << 20},
		{"slowloris", 200, 50 * time.Millisecond, 32 << 20},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			const timeout = 500 * time.Millisecond
			srv := serve(t, quietOptions(framework.Options{HandshakeTimeout: timeout}))
			head := []byte("GET /echo HTTP/1.1\r\nHost: " + srv.Addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Pad: " + strings.Repeat("p", 2000))
			e := startEchoer(t, srv.Addr)
			heap := watchHeap()
			longest := holdHandshakes(t, srv.Addr, tc.conns, head, tc.dribble)
			e.waitRounds(t, 3)
			growth := heap.peakGrowth()
			e.stopEchoer(t)
			t.Logf("%d %s handshakes: all closed within %v (HandshakeTimeout %v), peak heap growth %s (bound %s)",
				tc.conns, tc.name, longest.Round(time.Millisecond), timeout, mib(growth), mib(tc.bound))
			if longest < timeout {
				t.Errorf("a connection was closed after %v, before HandshakeTimeout", longest)
			}
			if growth > tc.bound {
				t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(tc.bound))
			}
		})
	}
}

// Clients that never read are cut by WriteTimeout while the server keeps
// writing to them; what waits for them is bounded by the socket buffers
// and the write buffer, not the heap.
func TestAttackNeverReads(t *testing.T) {
	checkLeaks(t)
	const (
		attackers = 100
		timeout   = 500 * time.Millisecond
	)
	f := newFaults(t)
	chunk := make([]byte, 64<<10)
	f.open = func(ctx context.Context, c *framework.Conn) error {
		for {
			if err := c.SendBinary(ctx, chunk); err != nil {
				return err
			}
		}
	}
	srv := serve(t, quietOptions(framework.Options{WriteTimeout: timeout}), faultBP)
	e := startEchoer(t, srv.Addr)
	heap := watchHeap()
	for range attackers {
		dialRaw(t, srv.Addr, f.path()) // never reads
	}
	for range attackers {
		st := f.waitClose(t)
		if st.Cause != framework.CauseSlow {
			t.Fatalf("OnClose got %v, want cause write timeout", st)
		}
	}
	e.waitRounds(t, 3)
	growth := heap.peakGrowth()
	e.stopEchoer(t)
	const bound = 32 << 20
	t.Logf("%d clients that never read: all cut by WriteTimeout %v, peak heap growth %s (bound %s)", attackers, timeout, mib(growth), mib(bound))
	if growth > bound {
		t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(bound))
	}
	f.checkClosedOnce(t)
}

// A room whose members never read: broadcasts go through each member's
// bounded send queue, which closes the member (1013) when it overflows,
// while a reading member keeps receiving.
func TestAttackNeverReadsBroadcast(t *testing.T) {
	checkLeaks(t)
	const attackers = 100
	f := newFaults(t)
	f.open = func(ctx context.Context, c *framework.Conn) error { return c.Join("flood") }
	srv := serve(t, quietOptions(framework.Options{WriteTimeout: 500 * time.Millisecond}), faultBP)
	for range attackers {
		c := dialRaw(t, srv.Addr, f.path()) // never reads
		// A small receive buffer: the kernel holds less for it, so its
		// send queue fills sooner.
		_ = c.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
		f.waitOpen(t)
	}
	reader := dialRaw(t, srv.Addr, f.path())
	f.waitOpen(t)
	heap := watchHeap()
	payload := make([]byte, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 4*rawTimeout)
	defer cancel()
	closed := 0
	for i := 0; closed < attackers; i++ {
		// A fresh copy each time: a queue that kept them would grow.
		if err := srv.Hub().Broadcast(ctx, "flood", framework.Binary(payload)); err != nil {
			t.Fatalf("broadcast %d: %v", i, err)
		}
		if _, b := reader.readMessage(); len(b) != len(payload) {
			t.Fatalf("reader: got %d bytes, want %d", len(b), len(payload))
		}
		for len(f.closed) > 0 {
			if st := f.waitClose(t); st.Cause != framework.CauseSlow {
				t.Fatalf("OnClose got %v, want the send-queue policy or the write timeout", st)
			}
			closed++
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d members that never read still open", attackers-closed, attackers)
		}
	}
	growth := heap.peakGrowth()
	// A queue holds at most 4 MiB (QueueOptions.MaxBytes) and the members
	// share each message: about 4 MiB in all. Queues that kept every
	// broadcast until the write timeout would hold far more.
	const bound = 64 << 20
	t.Logf("%d room members that never read: all closed by their send queue, peak heap growth %s (bound %s)", attackers, mib(growth), mib(bound))
	if growth > bound {
		t.Errorf("peak heap growth %s, want under %s", mib(growth), mib(bound))
	}
	reader.closeNormally()
	f.waitClose(t)
	f.checkClosedOnce(t)
}

// faults drives a faultHandler: each hook does what the test sets, and
// every OnClose is counted per connection.
type faults struct {
	id        string
	handshake func(r *http.Request) error
	open      func(ctx context.Context, c *framework.Conn) error
	message   func(ctx context.Context, c *framework.Conn, text string) error
	binary    func(ctx context.Context, c *framework.Conn, data []byte) error
	onClose   func(c *framework.Conn, st framework.CloseStatus)

	opened chan *framework.Conn
	closed chan framework.CloseStatus

	mu     sync.Mutex
	closes map[*framework.Conn]int
	opens  int
}

var (
	faultSets sync.Map // id → *faults
	faultSeq  atomic.Int64
)

// faultBP routes /fault to faultHandler.
var faultBP = framework.NewBlueprint("", framework.Route[faultHandler]("/fault"))

func newFaults(t testing.TB) *faults {
	f := &faults{
		id:     strconv.FormatInt(faultSeq.Add(1), 10),
		opened: make(chan *framework.Conn, 20000),
		closed: make(chan framework.CloseStatus, 20000),
		closes: make(map[*framework.Conn]int),
	}
	faultSets.Store(f.id, f)
	t.Cleanup(func() { faultSets.Delete(f.id) })
	return f
}

// path returns the path that selects f, with extra query parameters.
func (f *faults) path(query ...string) string {
	return "/fault?" + strings.Join(append([]string{"f=" + f.id}, query...), "&")
}

func (f *faults) waitOpen(t testing.TB) *framework.Conn {
	t.Helper()
	select {
	case c := <-f.opened:
		return c
	case <-time.After(rawTimeout):
		t.Fatalf("OnOpen did not run within %v", rawTimeout)
		return nil
	}
}

func (f *faults) waitClose(t testing.TB) framework.CloseStatus {
	t.Helper()
	select {
	case st := <-f.closed:
		return st
	case <-time.After(2 * rawTimeout):
		t.Fatalf("OnClose did not run within %v", 2*rawTimeout)
		return framework.CloseStatus{}
	}
}

// checkClosedOnce fails the test unless OnClose ran exactly once for every
// connection whose OnOpen ran.
func (f *faults) checkClosedOnce(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.closes) != f.opens {
		t.Errorf("OnClose ran for %d connections, want %d (every opened one)", len(f.closes), f.opens)
	}
	for _, n := range f.closes {
		if n != 1 {
			t.Errorf("OnClose ran %d times for one connection, want 1", n)
		}
	}
}

// faultHandler is a handler with every hook, driven by the faults named by
// the query parameter f.
type faultHandler struct{ f *faults }

func (h *faultHandler) OnHandshake(r *http.Request) error {
	v, ok := faultSets.Load(r.URL.Query().Get("f"))
	if !ok {
		return framework.Reject(http.StatusNotFound, "no such fault set")
	}
	h.f = v.(*faults)
	if h.f.handshake != nil {
		return h.f.handshake(r)
	}
	return nil
}

func (h *faultHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.f.mu.Lock()
	h.f.opens++
	h.f.mu.Unlock()
	h.f.opened <- c
	if h.f.open != nil {
		return h.f.open(ctx, c)
	}
	return nil
}

func (h *faultHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if h.f.message != nil {
		return h.f.message(ctx, c, text)
	}
	return c.SendText(ctx, text)
}

func (h *faultHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	if h.f.binary != nil {
		return h.f.binary(ctx, c, data)
	}
	return c.SendBinary(ctx, data)
}

func (h *faultHandler) OnClose(c *framework.Conn, st framework.CloseStatus) {
	h.f.mu.Lock()
	h.f.closes[c]++
	h.f.mu.Unlock()
	defer func() { h.f.closed <- st }() // also when onClose panics
	if h.f.onClose != nil {
		h.f.onClose(c, st)
	}
}
