package main

import "math/bits"

// histogram is a log-linear histogram of nanoseconds: exact below 128 ns,
// then 64 buckets per power of two (1.6 % resolution).
type histogram struct {
	counts [128 + 58*64]uint64
	n      uint64
	max    uint64
}

func bucketOf(v uint64) int {
	if v < 128 {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return 128 + (e-1)*64 + int(v>>e) - 64
}

// valueOf returns the middle of bucket i.
func valueOf(i int) uint64 {
	if i < 128 {
		return uint64(i)
	}
	e := (i-128)/64 + 1
	m := uint64((i-128)%64 + 64)
	return m<<e + (uint64(1)<<e)/2
}

func (h *histogram) record(v int64) {
	if v < 0 {
		v = 0 // clocks of one machine: only rounding makes this happen
	}
	u := uint64(v)
	h.counts[min(bucketOf(u), len(h.counts)-1)]++
	h.n++
	h.max = max(h.max, u)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile in nanoseconds, or 0 when empty.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(valueOf(i), h.max)
		}
	}
	return h.max
}
