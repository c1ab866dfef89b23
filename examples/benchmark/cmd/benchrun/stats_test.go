package main

import (
	"math"
	"testing"
)

func TestMedianCI(t *testing.T) {
	ten := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}
	// n = 10: [x(2), x(9)] covers 1 − 2·11/1024 ≈ 97.9 %; [x(3), x(8)]
	// only 89 %.
	if lo, hi, ok := medianCI(ten, 0.95); !ok || lo != 2 || hi != 9 {
		t.Errorf("n = 10: [%v, %v] %v, want [2, 9] true", lo, hi, ok)
	}
	// n = 6: [min, max] covers 1 − 2/64 ≈ 96.9 %.
	if lo, hi, ok := medianCI([]float64{3, 1, 2, 6, 5, 4}, 0.95); !ok || lo != 1 || hi != 6 {
		t.Errorf("n = 6: [%v, %v] %v, want [1, 6] true", lo, hi, ok)
	}
	// n = 5: [min, max] covers 1 − 2/32 = 93.75 %: no 95 % interval.
	if _, _, ok := medianCI([]float64{1, 2, 3, 4, 5}, 0.95); ok {
		t.Error("n = 5: got a 95 % interval")
	}
	if got := medianOf(ten); got != 5.5 {
		t.Errorf("median %v, want 5.5", got)
	}
}

func TestUTest(t *testing.T) {
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// Every x above every y: U = n·m, one ordering in C(n+m, n) each way.
	if p := uTest([]float64{4, 5, 6}, []float64{1, 2, 3}); !near(p, 2.0/20) {
		t.Errorf("3 vs 3 apart: p = %v, want 0.1", p)
	}
	a := []float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	b := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := uTest(a, b); !near(p, 2.0/184756) {
		t.Errorf("10 vs 10 apart: p = %v, want 2/184756", p)
	}
	// Interleaved samples: no evidence of a difference.
	if p := uTest([]float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}); p < 0.5 {
		t.Errorf("interleaved: p = %v, want large", p)
	}
	// Ties share their mean rank and the test stays exact: of the 6 ways
	// to split {20, 20, 30, 30} in two, one puts both 30s in xs and one
	// both 20s.
	if p := uTest([]float64{30, 30}, []float64{20, 20}); !near(p, 2.0/6) {
		t.Errorf("2 vs 2 apart, tied: p = %v, want 1/3", p)
	}
	// Beyond 60 values, the normal approximation.
	var big, small []float64
	for i := range 31 {
		big, small = append(big, float64(100+i)), append(small, float64(i))
	}
	if p := uTest(big, small); p > 1e-9 {
		t.Errorf("31 vs 31 apart: p = %v, want tiny", p)
	}
	if p := uTest(append(big, small...), append(small, big...)); !near(p, 1) {
		t.Errorf("62 vs 62 alike: p = %v, want 1", p)
	}
	if p := uTest([]float64{1, 1, 2, 2}, []float64{1, 1, 2, 2}); !near(p, 1) {
		t.Errorf("identical: p = %v, want 1", p)
	}
	if p := uTest(a, nil); !math.IsNaN(p) {
		t.Errorf("empty: p = %v, want NaN", p)
	}
}
