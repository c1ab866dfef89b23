package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	t.Parallel()
	values := []uint64{0, 1, 63, 64, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1<<63 - 1, math.MaxUint64}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", v, i, numBuckets)
		}
		lo, width := bucketRange(i)
		if v < lo || v-lo >= width {
			t.Errorf("value %d in bucket %d = [%d, %d+%d), want inside", v, i, lo, lo, width)
		}
		if v >= 128 && float64(width)/float64(lo) > 1.0/64+1e-12 {
			t.Errorf("bucket of %d is %d wide at %d, want at most 1/64 of it", v, width, lo)
		}
	}
	// Buckets are contiguous and increasing.
	prevEnd := uint64(0)
	for i := range 40 * subCount {
		lo, width := bucketRange(i)
		if lo != prevEnd {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, prevEnd)
		}
		prevEnd = lo + width
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []time.Duration
		q      map[float64]time.Duration
	}{
		{
			name:   "1 to 1000 µs",
			values: seq(1000, func(i int) time.Duration { return time.Duration(i+1) * time.Microsecond }),
			q:      map[float64]time.Duration{0.5: 500 * time.Microsecond, 0.99: 990 * time.Microsecond, 0.999: 999 * time.Microsecond, 1: 1000 * time.Microsecond},
		},
		{
			name:   "one value",
			values: []time.Duration{42 * time.Millisecond},
			q:      map[float64]time.Duration{0.5: 42 * time.Millisecond, 0.999: 42 * time.Millisecond},
		},
		{
			name: "outliers",
			values: seq(10000, func(i int) time.Duration {
				if i%100 == 0 { // 1 %
					return 50 * time.Millisecond
				}
				return 100 * time.Microsecond
			}),
			q: map[float64]time.Duration{0.5: 100 * time.Microsecond, 0.98: 100 * time.Microsecond, 0.995: 50 * time.Millisecond},
		},
		{
			name:   "small exact",
			values: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			q:      map[float64]time.Duration{0.5: 5, 0.9: 9, 0.99: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			for q, want := range tt.q {
				got := h.Quantile(q)
				if d := math.Abs(float64(got-want)) / float64(want); d > 1.0/64 {
					t.Errorf("Quantile(%v) = %v, want %v (within 1/64)", q, got, want)
				}
			}
			if h.Count() != uint64(len(tt.values)) {
				t.Errorf("got count %d, want %d", h.Count(), len(tt.values))
			}
		})
	}
}

// TestQuantilesRandom compares against sorting, on data spanning five
// orders of magnitude, split over histograms that are then merged.
func TestQuantilesRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	values := make([]time.Duration, 50000)
	var parts [4]Histogram
	for i := range values {
		v := time.Duration(math.Exp(r.Float64()*math.Log(1e5)) * 1000) // 1 µs to 100 ms
		values[i] = v
		parts[i%4].Record(v)
	}
	var h Histogram
	for i := range parts {
		h.Merge(&parts[i])
	}
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := values[int(math.Ceil(q*float64(len(values))))-1]
		got := h.Quantile(q)
		if d := math.Abs(float64(got-want)) / float64(want); d > 1.0/64 {
			t.Errorf("Quantile(%v) = %v, want %v (within 1/64)", q, got, want)
		}
	}
	if h.Min() != values[0] || h.Max() != values[len(values)-1] {
		t.Errorf("got min %v max %v, want %v %v", h.Min(), h.Max(), values[0], values[len(values)-1])
	}
}

func TestEmptyHistogram(t *testing.T) {
	t.Parallel()
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Error("empty histogram: want zeros")
	}
}

func seq(n int, f func(int) time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i*7919) % time.Second)
	}
}
