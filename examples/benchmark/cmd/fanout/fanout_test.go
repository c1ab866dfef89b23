//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.record(v * 1000) // 1 µs .. 100 ms, uniform
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50e6}, {0.99, 99e6}} {
		got := float64(h.quantile(c.q))
		if got < c.want*0.98 || got > c.want*1.02 {
			t.Errorf("quantile(%v) = %.0f, want %.0f ± 2 %%", c.q, got, c.want)
		}
	}
	if h.max != 100e6 {
		t.Errorf("max = %d", h.max)
	}
	for i := range 2000 {
		if bucketOf(valueOf(i)) != i {
			t.Fatalf("bucketOf(valueOf(%d)) = %d", i, bucketOf(valueOf(i)))
		}
	}
}

// serverFrame is an unmasked server frame.
func serverFrame(opcode byte, p []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

func payload(size int, seq uint64) []byte {
	p := make([]byte, size)
	binary.LittleEndian.PutUint64(p, seq)
	binary.LittleEndian.PutUint64(p[8:], uint64(time.Now().UnixNano()))
	return p
}

// TestParse feeds frames split at every byte and checks what is counted.
func TestParse(t *testing.T) {
	for _, size := range []int{64, 4096, 70000} {
		var stream []byte
		stream = append(stream, serverFrame(2, payload(size, probeBit))...)
		for _, seq := range []uint64{0, 1, 1, 3} { // a duplicate, a loss (2)
			stream = append(stream, serverFrame(2, payload(size, seq))...)
		}
		for _, step := range []int{1, 7, 1000, len(stream)} {
			if step < 1000 && size > 4096 {
				continue // quadratic: the small sizes cover it
			}
			sh := &shared{size: size, maxSeq: 10, counts: make([]atomic.Int32, 10)}
			r := &reader{sh: sh}
			m := &member{seen: make([]uint64, 1)}
			var pending []byte
			for i := 0; i < len(stream); i += step {
				b := append(pending, stream[i:min(i+step, len(stream))]...)
				pending = append([]byte(nil), r.parse(m, b, time.Now().UnixNano())...)
			}
			if len(pending) != 0 || !m.joined || r.st.delivered != 3 || r.st.dup != 1 || r.st.bad != 0 || m.lost(4) != 1 {
				t.Errorf("size %d step %d: pending %d joined %v delivered %d dup %d bad %d lost %d (%s)",
					size, step, len(pending), m.joined, r.st.delivered, r.st.dup, r.st.bad, m.lost(4), r.st.firstErr)
			}
		}
	}
}

// TestRun runs the client against a small in-process room.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	room := map[*websocket.Conn]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		room[c] = true
		mu.Unlock()
		<-c.CloseRead(context.Background()).Done()
		mu.Lock()
		delete(room, c)
		mu.Unlock()
	})
	mux.HandleFunc("/fanout/pub", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			mu.Lock()
			for m := range room {
				_ = m.Write(context.Background(), typ, msg)
			}
			mu.Unlock()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// A second server on the same room: two "nodes" of one cluster.
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	wsURL := func(s *httptest.Server) string { return "ws://" + strings.TrimPrefix(s.URL, "http://") }

	cfg := config{members: 50, size: 200, readers: 2, window: 64, parallel: 8, rate: 200,
		duration: 300 * time.Millisecond, timeout: 5 * time.Second, lossAfter: time.Second}
	res, err := run(cfg, []string{wsURL(srv)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Broadcasts < 50 || res.Deliveries != res.Broadcasts*50 || res.Lost != 0 || res.Dup != 0 || res.P50us <= 0 || len(res.Nodes) != 0 {
		t.Fatalf("%+v", res)
	}

	cfg.members = 51
	res, err = run(cfg, []string{wsURL(srv), wsURL(srv2)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != res.Broadcasts*51 || res.Lost != 0 || res.Dup != 0 {
		t.Fatalf("two nodes: %+v", res)
	}
	if len(res.Nodes) != 2 || res.Nodes[0].Members != 26 || res.Nodes[1].Members != 25 || res.Nodes[1].URL != wsURL(srv2) {
		t.Fatalf("two nodes: members spread as %+v, want 26 and 25", res.Nodes)
	}
}
