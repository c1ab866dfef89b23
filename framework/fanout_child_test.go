package framework_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// This file holds BenchmarkFanOutChild, the fan-out benchmark of
// docs/rooms.md with the members in a child process (this test binary
// again, running TestFanOutChildClient), as TestStorm does: the server
// then needs one descriptor per member, not two, so 10,000 members fit
// under a hard RLIMIT_NOFILE of 20,000.
//
// The method is BenchmarkFanOut's: one 64-byte binary message at a time,
// and the next only once every member has read it. Each message carries
// its send time (wall clock: both processes are on one machine) and its
// sequence number; the child notes when each member reads it, tells the
// parent when a message is complete, and reports per-message statistics
// as JSON at the end.
//
// Protocol, one line each way: the child prints "fanout: ready" once its
// connections are open; the parent sends "run N" (N messages follow), the
// child answers "fanout: armed", then "fanout: delivered SEQ" for each
// message every member has read; the parent sends "report", the child
// answers "fanout: stats {JSON}"; the child closes its connections and
// ends when its input ends. Errors are "fanout: error ...".

const (
	fanoutRoom  = "bench"
	fanoutBurst = 500 // connections dialled at once; under net.core.somaxconn
	fanoutSize  = 64  // message size, as in BenchmarkFanOut
	fanoutWait  = time.Minute
)

// fanoutHandler puts every connection in the room; the members send
// nothing.
type fanoutHandler struct{}

func (fanoutHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.Join(fanoutRoom)
}

func (fanoutHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return nil
}

var fanoutBP = framework.NewBlueprint("", framework.Route[fanoutHandler]("/fanout"))

// fanoutStats is what the child reports: latencies are from the send time
// stamped in the message to a member's read of it.
type fanoutStats struct {
	Members    int              `json:"members"`
	Messages   int              `json:"messages"`
	Delivered  int              `json:"delivered"`
	P50Ms      float64          `json:"p50_ms"`
	P99Ms      float64          `json:"p99_ms"`
	MaxMs      float64          `json:"max_ms"`
	PerMessage []fanoutMsgStats `json:"per_message"`
}

// fanoutMsgStats describes one message; SpreadMs is from its first read
// to its last.
type fanoutMsgStats struct {
	Seq       int     `json:"seq"`
	Delivered int     `json:"delivered"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	SpreadMs  float64 `json:"spread_ms"`
}

// BenchmarkFanOutChild broadcasts b.N messages to a room of 1,000 and of
// 10,000 members held by a child process, and reports deliveries/s and
// the p50 and p99 latency.
//
// With burst=K (K > 1) the messages go out K at a time, back to back, and
// the next K only once every member has read those: the room is busy, and
// a member's send queue holds several messages at once. Each run also
// reports the server's CPU time (this process's: user and system) per
// delivery.
func BenchmarkFanOutChild(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) { fanOutChild(b, n, 1) })
	}
	for _, n := range []int{1000, 5000} {
		b.Run("members="+strconv.Itoa(n)+"/burst=8", func(b *testing.B) { fanOutChild(b, n, 8) })
	}
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fanOutChild(b *testing.B, n, burst int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("getrlimit: %v", err)
	}
	if lim.Max < uint64(n)+512 {
		b.Skipf("%d members need %d open files in each process, the hard limit is %d", n, n+512, lim.Max)
	}
	b.StopTimer()
	srv := wstest.NewServerOptions(b, framework.Options{Logger: slog.New(slog.DiscardHandler)}, fanoutBP)

	cmd := exec.Command(os.Args[0], "-test.run=^TestFanOutChildClient$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), fmt.Sprintf("NOWS_FANOUT_CLIENT=%s %d", srv.Addr, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Registered after the server's: the child goes first.
	b.Cleanup(func() {
		_ = stdin.Close()
		exited := make(chan error, 1)
		go func() {
			for range lines { // until the child closes its output
			}
			exited <- cmd.Wait()
		}()
		select {
		case err := <-exited:
			if err != nil {
				b.Errorf("fan-out client: %v\n%s", err, stderr.String())
			}
		case <-time.After(fanoutWait):
			_ = cmd.Process.Kill()
			<-exited
			b.Errorf("fan-out client did not end within %v; killed it\n%s", fanoutWait, stderr.String())
		}
	})
	expect := func(prefix string, d time.Duration) string {
		b.Helper()
		timeout := time.NewTimer(d)
		defer timeout.Stop()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					b.Fatalf("fan-out client ended before %q:\n%s", prefix, stderr.String())
				}
				if strings.HasPrefix(line, "fanout: error") {
					b.Fatalf("fan-out client: %s", line)
				}
				if rest, ok := strings.CutPrefix(line, prefix); ok {
					return rest
				}
			case <-timeout.C:
				b.Fatalf("fan-out client: no %q within %v", prefix, d)
			}
		}
	}
	expect("fanout: ready", time.Duration(n/100+60)*time.Second)
	hub := srv.Hub()
	within(b, fanoutWait, "every member in the room", func() bool {
		return len(hub.LocalMembers(fanoutRoom)) == n
	})
	if _, err := fmt.Fprintf(stdin, "run %d\n", b.N); err != nil {
		b.Fatal(err)
	}
	expect("fanout: armed", fanoutWait)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	b.StartTimer()
	start, cpuStart := time.Now(), cpuTime(b)
	for first := 0; first < b.N; first += burst {
		k := min(burst, b.N-first)
		for i := first; i < first+k; i++ {
			msg := make([]byte, fanoutSize)
			binary.BigEndian.PutUint64(msg[8:], uint64(i))
			binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
			if err := hub.Broadcast(ctx, fanoutRoom, framework.Binary(msg)); err != nil {
				b.Fatalf("Broadcast: %v", err)
			}
		}
		// The messages of a burst may complete in any order.
		for range k {
			got, err := strconv.Atoi(expect("fanout: delivered ", fanoutWait))
			if err != nil || got < first || got >= first+k {
				b.Fatalf("messages %d to %d: the child completed %d (%v)", first, first+k-1, got, err)
			}
		}
	}
	elapsed, cpu := time.Since(start), cpuTime(b)-cpuStart
	b.StopTimer()

	if _, err := io.WriteString(stdin, "report\n"); err != nil {
		b.Fatal(err)
	}
	var st fanoutStats
	if err := json.Unmarshal([]byte(expect("fanout: stats ", fanoutWait)), &st); err != nil {
		b.Fatalf("fan-out stats: %v", err)
	}
	if st.Delivered != n*b.N {
		b.Fatalf("%d deliveries, want %d", st.Delivered, n*b.N)
	}
	if b.N > 1 {
		worst := slices.MaxFunc(st.PerMessage, func(x, y fanoutMsgStats) int {
			return cmp.Compare(x.P99Ms, y.P99Ms)
		})
		b.Logf("%d members, %d messages: p50 %.1f ms, p99 %.1f ms, max %.1f ms; worst message %d: p99 %.1f ms, spread %.1f ms",
			n, b.N, st.P50Ms, st.P99Ms, st.MaxMs, worst.Seq, worst.P99Ms, worst.SpreadMs)
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/delivery")
	b.ReportMetric(st.P50Ms, "p50-ms")
	b.ReportMetric(st.P99Ms, "p99-ms")
}

// fanoutRun is the child's record of one run: recv[seq*members+i] is when
// member i read message seq (Unix ns; 0 for not yet).
type fanoutRun struct {
	members   int
	sent      []atomic.Int64
	recv      []atomic.Int64
	remaining []atomic.Int64
	complete  chan int // sequence numbers every member has read
}

// note records that member i read payload at recv.
func (r *fanoutRun) note(i int, payload []byte, recv int64) {
	if len(payload) < 16 {
		return
	}
	sent := int64(binary.BigEndian.Uint64(payload))
	seq := binary.BigEndian.Uint64(payload[8:])
	if seq >= uint64(len(r.sent)) {
		return
	}
	r.sent[seq].Store(sent)
	if !r.recv[int(seq)*r.members+i].CompareAndSwap(0, recv) {
		return // a duplicate
	}
	if r.remaining[seq].Add(-1) == 0 {
		r.complete <- int(seq) // buffered for every message
	}
}

// stats summarises the run.
func (r *fanoutRun) stats() fanoutStats {
	ms := func(d int64) float64 { return float64(d) / 1e6 }
	pct := func(s []int64, p int) int64 {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)*p/100, len(s)-1)]
	}
	st := fanoutStats{Members: r.members, Messages: len(r.sent)}
	var all []int64
	for seq := range r.sent {
		sent := r.sent[seq].Load()
		lats := make([]int64, 0, r.members)
		first, last := int64(0), int64(0)
		for i := range r.members {
			recv := r.recv[seq*r.members+i].Load()
			if recv == 0 {
				continue
			}
			lats = append(lats, recv-sent)
			if first == 0 || recv < first {
				first = recv
			}
			last = max(last, recv)
		}
		slices.Sort(lats)
		all = append(all, lats...)
		m := fanoutMsgStats{Seq: seq, Delivered: len(lats), P50Ms: ms(pct(lats, 50)), P99Ms: ms(pct(lats, 99)), SpreadMs: ms(last - first)}
		if len(lats) > 0 {
			m.MaxMs = ms(lats[len(lats)-1])
		}
		st.PerMessage = append(st.PerMessage, m)
	}
	slices.Sort(all)
	st.Delivered = len(all)
	st.P50Ms, st.P99Ms = ms(pct(all, 50)), ms(pct(all, 99))
	if len(all) > 0 {
		st.MaxMs = ms(all[len(all)-1])
	}
	return st
}

// TestFanOutChildClient is the member side of BenchmarkFanOutChild, run
// in a child process; see the protocol at the top of the file.
func TestFanOutChildClient(t *testing.T) {
	spec := os.Getenv("NOWS_FANOUT_CLIENT")
	if spec == "" {
		t.Skip("run by BenchmarkFanOutChild (go test -bench FanOutChild)")
	}
	var addr string
	var n int
	if _, err := fmt.Sscanf(spec, "%s %d", &addr, &n); err != nil {
		t.Fatalf("NOWS_FANOUT_CLIENT=%q: %v", spec, err)
	}
	raiseFileLimit(t)

	var run atomic.Pointer[fanoutRun]
	var readers sync.WaitGroup
	conns := make([]net.Conn, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
		readers.Wait()
	}()
	var failed atomic.Value
	for start := 0; start < n; start += fanoutBurst {
		var wg sync.WaitGroup
		for i := start; i < min(start+fanoutBurst, n); i++ {
			wg.Go(func() {
				nc, br, err := fanoutOpen(addr)
				if err != nil {
					failed.CompareAndSwap(nil, fmt.Errorf("connection %d: %w", i, err))
					return
				}
				conns[i] = nc
				readers.Go(func() {
					for {
						op, payload, err := fanoutReadFrame(br)
						if err != nil || op == opClose {
							return
						}
						if r := run.Load(); r != nil && op == opBinary {
							r.note(i, payload, time.Now().UnixNano())
						}
					}
				})
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			fmt.Printf("fanout: error %v\n", err)
			return
		}
	}
	fmt.Println("fanout: ready")

	in := make(chan string)
	go func() { // ends with the input
		defer close(in)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			in <- sc.Text()
		}
	}()
	var complete chan int
	for {
		select {
		case seq := <-complete:
			fmt.Printf("fanout: delivered %d\n", seq)
		case line, ok := <-in:
			if !ok {
				return
			}
			if v, ok := strings.CutPrefix(line, "run "); ok {
				k, err := strconv.Atoi(v)
				if err != nil || k < 0 {
					fmt.Printf("fanout: error bad command %q\n", line)
					continue
				}
				r := &fanoutRun{
					members:   n,
					sent:      make([]atomic.Int64, k),
					recv:      make([]atomic.Int64, k*n),
					remaining: make([]atomic.Int64, k),
					complete:  make(chan int, k),
				}
				for i := range r.remaining {
					r.remaining[i].Store(int64(n))
				}
				complete = r.complete
				run.Store(r)
				fmt.Println("fanout: armed")
				continue
			}
			if line == "report" {
				r := run.Load()
				if r == nil {
					fmt.Println("fanout: error report before run")
					continue
				}
				js, err := json.Marshal(r.stats())
				if err != nil {
					fmt.Printf("fanout: error %v\n", err)
					continue
				}
				fmt.Printf("fanout: stats %s\n", js)
				continue
			}
			fmt.Printf("fanout: error unknown command %q\n", line)
		}
	}
}

// fanoutOpen opens a WebSocket connection to /fanout.
func fanoutOpen(addr string) (net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*rawTimeout)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(4 * rawTimeout))
	br := bufio.NewReaderSize(nc, 512)
	if _, err := io.WriteString(nc, upgradeRequest(addr, "/fanout")); err != nil {
		nc.Close()
		return nil, nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, nil, fmt.Errorf("got status %d, want 101", resp.StatusCode)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// fanoutReadFrame reads one unmasked, unfragmented server frame, with no
// deadline: the members wait between runs.
func fanoutReadFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}
