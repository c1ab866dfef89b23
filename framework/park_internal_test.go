//go:build linux

package framework

import (
	"math/rand/v2"
	"testing"
)

// TestIdleHeap pushes and removes idle deadlines at random: the heap
// stays ordered, and every connection knows its place in it.
func TestIdleHeap(t *testing.T) {
	var h idleHeap
	in := map[*Conn]bool{}
	check := func() {
		t.Helper()
		if len(h) != len(in) {
			t.Fatalf("heap holds %d, want %d", len(h), len(in))
		}
		for i, d := range h {
			if d.c.wire.parkIdx != i+1 || !in[d.c] {
				t.Fatalf("entry %d: parkIdx %d", i, d.c.wire.parkIdx)
			}
			if i > 0 && h[(i-1)/2].at > d.at {
				t.Fatalf("entry %d is earlier than its parent", i)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		if len(h) == 0 || r.IntN(3) > 0 {
			c := &Conn{wire: &wireConn{}}
			in[c] = true
			h.push(parkDeadline{at: r.Int64N(100), c: c})
		} else {
			i := r.IntN(len(h))
			if r.IntN(2) == 0 {
				i = 0 // as the poller pops
			}
			c := h[i].c
			h.remove(i)
			delete(in, c)
			if c.wire.parkIdx != 0 {
				t.Fatal("a removed entry keeps its index")
			}
		}
		check()
	}
}
