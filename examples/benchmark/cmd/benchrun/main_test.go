package main

import (
	"slices"
	"testing"
)

func TestRunOrder(t *testing.T) {
	const n, reps = 5, 10
	after := map[[2]int]bool{} // (server, the one before it) seen
	for rep := range reps {
		order := runOrder(n, rep)
		if got := slices.Sorted(slices.Values(order)); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
			t.Fatalf("rep %d: order %v is not a permutation", rep, order)
		}
		if order[0] != rep%n {
			t.Errorf("rep %d: %d first, want %d", rep, order[0], rep%n)
		}
		if !slices.Equal(order, runOrder(n, rep)) {
			t.Errorf("rep %d: two calls give two orders", rep)
		}
		for i := 1; i < n; i++ {
			after[[2]int{order[i], order[i-1]}] = true
		}
	}
	for s := range n {
		before := 0
		for p := range n {
			if after[[2]int{s, p}] {
				before++
			}
		}
		if before < 2 {
			t.Errorf("server %d always runs after the same one", s)
		}
	}
	if got := runOrder(1, 3); !slices.Equal(got, []int{0}) {
		t.Errorf("one server: %v", got)
	}
}
