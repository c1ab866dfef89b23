package main

import (
	"math"
	"slices"
)

// confidence is the confidence level of the intervals in the report.
const confidence = 0.95

// medianOf returns the median of xs, or 0 for none.
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(xs))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// medianCI returns a distribution-free confidence interval for the median
// of xs: the order statistics x(k) and x(n+1−k) for the largest k whose
// coverage, 1 − 2·P(B ≤ k−1) with B ~ Binomial(n, ½), is at least conf. It
// assumes nothing about the distribution, only that the values are
// independent. ok is false when even [min, max] covers less than conf (at
// 95 %, fewer than 6 values).
func medianCI(xs []float64, conf float64) (lo, hi float64, ok bool) {
	n := len(xs)
	k := 0 // the largest k found so far
	for c := 1; 2*c <= n+1; c++ {
		if 1-2*binomCDF(n, c-1) < conf {
			break
		}
		k = c
	}
	if k == 0 {
		return math.Inf(-1), math.Inf(1), false
	}
	v := slices.Sorted(slices.Values(xs))
	return v[k-1], v[n-k], true
}

// binomCDF returns P(B ≤ k) for B ~ Binomial(n, ½).
func binomCDF(n, k int) float64 {
	p := math.Pow(0.5, float64(n)) // P(B = 0)
	sum := 0.0
	for i := 0; i <= k && i <= n; i++ {
		sum += p
		p *= float64(n-i) / float64(i+1)
	}
	return math.Min(sum, 1)
}

// uTest returns the two-sided p-value of the Mann-Whitney U test of xs
// against ys: the probability, were both drawn from one distribution, of a
// rank sum at least as far from its mean as the one observed. It uses the
// exact distribution of U when no value repeats and the samples are small,
// else the normal approximation with the correction for ties. It returns
// NaN when either sample is empty.
func uTest(xs, ys []float64) float64 {
	n, m := len(xs), len(ys)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	u, ties := mannWhitneyU(xs, ys)
	if ties == 0 && n*m <= 2500 {
		return exactUTestP(n, m, u)
	}
	N := float64(n + m)
	mean := float64(n*m) / 2
	variance := float64(n*m) / 12 * ((N + 1) - ties/(N*(N-1)))
	if variance <= 0 {
		return 1
	}
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(variance)
	return math.Min(1, math.Erfc(math.Max(z, 0)/math.Sqrt2))
}

// mannWhitneyU returns U, the number of pairs (x, y) with x > y counting
// ties as one half, and Σ(t³ − t) over the groups of t equal values in the
// two samples together (0 when no value repeats).
func mannWhitneyU(xs, ys []float64) (u, ties float64) {
	for _, x := range xs {
		for _, y := range ys {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	all := slices.Sorted(slices.Values(append(slices.Clone(xs), ys...)))
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j] == all[i] {
			j++
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	return u, ties
}

// exactUTestP returns the two-sided p-value of U = u for samples of n and m
// distinct values, from the exact distribution of U.
func exactUTestP(n, m int, u float64) float64 {
	counts := uCounts(n, m)
	total, below, above := 0.0, 0.0, 0.0
	for v, c := range counts {
		total += c
		if float64(v) <= u {
			below += c
		}
		if float64(v) >= u {
			above += c
		}
	}
	return math.Min(1, 2*math.Min(below, above)/total)
}

// uCounts returns, for each u from 0 to n·m, the number of orderings of n
// values of one sample and m of the other that give U = u. The largest of
// all values is either from the first sample (it beats the m others: u−m
// left for the rest) or from the second (it adds nothing).
func uCounts(n, m int) []float64 {
	// prev[j] holds the counts for (i−1, j); cur[j] for (i, j).
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = []float64{1} // no value of the first sample: U = 0
	}
	for i := 1; i <= n; i++ {
		cur := make([][]float64, m+1)
		cur[0] = []float64{1} // no value of the second sample: U = 0
		for j := 1; j <= m; j++ {
			c := make([]float64, i*j+1)
			for v := range c {
				if v-j >= 0 && v-j < len(prev[j]) {
					c[v] += prev[j][v-j]
				}
				if v < len(cur[j-1]) {
					c[v] += cur[j-1][v]
				}
			}
			cur[j] = c
		}
		prev = cur
	}
	return prev[m]
}
