package brokertest

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// RaiseFileLimit raises the limit of open files to at least 65536 when
// the process may (root), else to the hard limit,
// for benchmarks with thousands of connections.
func RaiseFileLimit(tb testing.TB) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("getrlimit: %v", err)
	}
	// Above the hard limit when allowed (root), else up to it.
	want := syscall.Rlimit{Cur: max(lim.Max, 1<<16), Max: max(lim.Max, 1<<16)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			tb.Fatalf("setrlimit: %v", err)
		}
	}
}

// FanOut measures broadcasts to a room whose n members are spread evenly
// over nodes; the first node broadcasts. Each iteration sends one binary
// message stamped with its send time and waits until every member has it.
// It reports deliveries/s (messages delivered to members per second) and
// the p50 and p99 latency from Broadcast to a member's read.
func FanOut(b *testing.B, nodes []*Node, n int) {
	b.Helper()
	RaiseFileLimit(b)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2*n+512) {
		// Clients and server are in this process: two descriptors each.
		b.Skipf("brokertest: %d members need %d open files, the limit is %d (raise the hard limit: ulimit -Hn)", n, 2*n+512, lim.Cur)
	}
	room := "fanout"
	var remaining atomic.Int64
	done := make(chan struct{}, 1)
	var latMu sync.Mutex
	var lats []time.Duration
	var readers sync.WaitGroup
	conns := make([]*websocket.Conn, 0, n)
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
		readers.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range n {
		node := nodes[i%len(nodes)]
		ws, _, err := websocket.Dial(ctx, node.URL("/rooms/"+room), nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, ws)
		if _, _, err := ws.Read(ctx); err != nil { // greeting
			b.Fatalf("greeting %d: %v", i, err)
		}
		readers.Go(func() {
			local := make([]time.Duration, 0, 64)
			defer func() {
				latMu.Lock()
				lats = append(lats, local...)
				latMu.Unlock()
			}()
			for {
				_, p, err := ws.Read(context.Background())
				if err != nil {
					return
				}
				if len(p) < 8 {
					continue
				}
				sent := int64(binary.BigEndian.Uint64(p))
				local = append(local, time.Duration(time.Now().UnixNano()-sent))
				if remaining.Add(-1) == 0 {
					done <- struct{}{}
				}
			}
		})
	}
	// Every node sees every member before timing starts.
	Eventually(b, time.Minute, "members agree", func() bool {
		for _, nd := range nodes {
			if len(nd.Hub().Members(room)) != n {
				return false
			}
		}
		return true
	})
	hub := nodes[0].Hub()
	msg := make([]byte, 64)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		remaining.Store(int64(n))
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		if err := hub.Broadcast(ctx, room, framework.Binary(msg)); err != nil {
			b.Fatalf("Broadcast: %v", err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			b.Fatalf("not every member got the broadcast: %d missing", remaining.Load())
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	for _, c := range conns {
		_ = c.CloseNow()
	}
	readers.Wait()
	conns = nil
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	}
}
