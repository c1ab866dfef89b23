package main

import (
	"cmp"
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
// rank sum of xs at least as far from its mean as the one observed. Equal
// values share their mean rank. It is exact (over every way of splitting
// the pooled values into the two samples) for up to 60 values in all, and
// the normal approximation with the correction for ties beyond. It returns
// NaN when either sample is empty.
func uTest(xs, ys []float64) float64 {
	n, m := len(xs), len(ys)
	if n == 0 || m == 0 {
		return math.NaN()
	}
	ranks, ties := doubledRanks(xs, ys)
	w := 0 // twice the rank sum of xs
	for _, r := range ranks[:n] {
		w += r
	}
	if n+m <= 60 {
		return exactRankSumP(ranks, n, w)
	}
	N := float64(n + m)
	u := float64(w)/2 - float64(n*(n+1))/2
	mean := float64(n*m) / 2
	variance := float64(n*m) / 12 * ((N + 1) - ties/(N*(N-1)))
	if variance <= 0 {
		return 1
	}
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(variance)
	return math.Min(1, math.Erfc(math.Max(z, 0)/math.Sqrt2))
}

// doubledRanks returns twice the rank (from 1, equal values sharing their
// mean rank) of each value of xs, then of ys, in the pooled sample; and
// Σ(t³ − t) over the groups of t equal values (0 when no value repeats).
func doubledRanks(xs, ys []float64) (ranks []int, ties float64) {
	all := append(slices.Clone(xs), ys...)
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(all[a], all[b]) })
	ranks = make([]int, len(all))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && all[idx[j]] == all[idx[i]] {
			j++
		}
		for _, k := range idx[i:j] {
			ranks[k] = i + 1 + j // 2 × the mean of ranks i+1 … j
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	return ranks, ties
}

// exactRankSumP returns the probability that n of the pooled doubled ranks,
// chosen at random, sum to a value at least as far from the mean as w. The
// distribution is symmetric about its mean, so this is the two-sided
// p-value.
func exactRankSumP(ranks []int, n, w int) float64 {
	total := 0
	for _, r := range ranks {
		total += r
	}
	// ways[k][s]: the number of k-subsets of the ranks seen so far with sum s.
	ways := make([][]float64, n+1)
	for k := range ways {
		ways[k] = make([]float64, total+1)
	}
	ways[0][0] = 1
	for _, r := range ranks {
		for k := n; k >= 1; k-- {
			for s := total; s >= r; s-- {
				ways[k][s] += ways[k-1][s-r]
			}
		}
	}
	mean := float64(n*total) / float64(len(ranks))
	dev := math.Abs(float64(w)-mean) - 1e-9
	far, all := 0.0, 0.0
	for s, c := range ways[n] {
		all += c
		if math.Abs(float64(s)-mean) >= dev {
			far += c
		}
	}
	return math.Min(1, far/all)
}
