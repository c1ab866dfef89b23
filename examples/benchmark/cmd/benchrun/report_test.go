package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestFanoutScenarios(t *testing.T) {
	p := params{dur: time.Second, idle: 10, handshakes: 10, fanDur: 4 * time.Second, fanLoad: 50000, fanMembers: []int{1000, 5000}}
	var ids []string
	for _, sc := range scenarios(p) {
		if selected("fanout", sc) {
			ids = append(ids, sc.id)
			if sc.kind != "fanout" {
				t.Errorf("%s: kind %s", sc.id, sc.kind)
			}
		}
	}
	if got, want := strings.Join(ids, ","), "fan1kx64,fan1kx4k,fan5kx64,fan5kx4k"; got != want {
		t.Fatalf("-only fanout picks %s, want %s", got, want)
	}
	sc := scenarios(p)[len(scenarios(p))-2] // the last but the recovery scenario
	if got := strings.Join(sc.args, " "); got != "-members 5000 -size 4096 -rate 10 -duration 4s" {
		t.Errorf("fan5kx4k args: %s", got)
	}
}

func TestFanoutReport(t *testing.T) {
	p := params{dur: time.Second, fanDur: 4 * time.Second, fanLoad: 50000, fanMembers: []int{1000}}
	var scens []scenario
	for _, sc := range scenarios(p) {
		if selected("fan1kx64,100x64", sc) {
			scens = append(scens, sc)
		}
	}
	r := report{
		Reps: 2, FanDur: p.fanDur, FanLoad: p.fanLoad, Servers: []string{"nows", "coder"}, Scenarios: scens,
		Samples: map[string]map[string][]sample{
			"fan1kx64": {
				"nows":  {{DeliveriesPS: 50000, P50us: 900, P99us: 2000, CPUusPerDlv: 6}, {DeliveriesPS: 50000, P50us: 1100, P99us: 3000, CPUusPerDlv: 8, Lost: 2}},
				"coder": {{DeliveriesPS: 50000, P50us: 1000, P99us: 1000, CPUusPerDlv: 4}, {DeliveriesPS: 50000, P50us: 1000, P99us: 1000, CPUusPerDlv: 4}},
			},
			"100x64": {"nows": {{MsgsPerSec: 1}}, "coder": {{MsgsPerSec: 1}}},
		},
	}
	md := r.markdown()
	fan, _, ok := strings.Cut(md[strings.Index(md, "## Fan-out"):], "## Method")
	if !ok {
		t.Fatal("no Fan-out section before Method")
	}
	for _, want := range []string{
		"benchmarks-fanout.svg",
		"| nows | 50,000 | 1000 | 2500 | 2.50× | 7.00 | 1.75× | – | 2 | 0 | 0 |",
	} {
		if !strings.Contains(fan, want) {
			t.Errorf("Fan-out section lacks %q:\n%s", want, fan)
		}
	}
	if strings.Contains(fan, "echo, 100 connections") {
		t.Error("the echo table is in the Fan-out section")
	}
	if svg := r.fanoutSVG(); !strings.Contains(svg, "1000 members × 64 B<") || !strings.Contains(svg, "1.75") {
		t.Errorf("fan-out chart:\n%s", svg)
	}
}

// repeat returns n samples, the i-th made by f(i).
func repeat(n int, f func(i int) sample) []sample {
	s := make([]sample, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

// targetsReport is a run of 10 repetitions built so that nows clearly
// meets the echo 64 B and memory targets, clearly misses the echo 16 KiB
// and handshake targets, is within noise at fan-out to 1,000, and loses a
// delivery at fan-out to 5,000.
func targetsReport() report {
	const reps = 10
	cpu := func(v float64) func(int) sample {
		return func(int) sample { return sample{CPUusPerMsg: v} }
	}
	// ±2 % around 1: the ratio's interval stays well below 1.05.
	jitter := func(i int) float64 { return 1 + float64(i%5-2)/100 }
	return report{
		Reps: reps, Idle: 5000, Servers: []string{"nows", "coder", "gorilla", "gws"},
		Samples: map[string]map[string][]sample{
			"100x64": {
				"nows": repeat(reps, func(i int) sample { return sample{CPUusPerMsg: 10 * jitter(i)} }),
				"gws":  repeat(reps, cpu(10)),
				// Metrics on costs 1 % in every rep: met (≤ 1.03 × nows).
				"nows-metrics": repeat(reps, func(i int) sample { return sample{CPUusPerMsg: 10.1 * jitter(i)} }),
			},
			"100x16k": {"nows": repeat(reps, cpu(30)), "gws": repeat(reps, cpu(20))},
			"fan1kx64": {
				// Ratios 0.90, 0.95, 1.00, 1.05, 1.10, ...: the interval holds 1.
				"nows": repeat(reps, func(i int) sample { return sample{CPUusPerDlv: 9 + float64(i%5)/2} }),
				// The lower of the two changes from rep to rep; it is always 10.
				"gws":     repeat(reps, func(i int) sample { return sample{CPUusPerDlv: 10 + float64(i%2)} }),
				"gorilla": repeat(reps, func(i int) sample { return sample{CPUusPerDlv: 11 - float64(i%2)} }),
			},
			"fan5kx64": {
				"nows": repeat(reps, func(i int) sample { return sample{CPUusPerDlv: 8, Lost: int64(i / 9)} }),
				"gws":  repeat(reps, func(int) sample { return sample{CPUusPerDlv: 10} }),
			},
			"idle": {
				"nows": repeat(reps, func(i int) sample { return sample{RSSKiBPer: 8 + float64(i)/20} }),
				"gws":  repeat(reps, func(int) sample { return sample{RSSKiBPer: 10} }),
			},
			"handshakes": {
				"nows":  repeat(reps, func(i int) sample { return sample{HandshakesPS: 5000 + float64(i)} }),
				"coder": repeat(reps, func(i int) sample { return sample{HandshakesPS: 10000 + float64(i)} }),
			},
		},
	}
}

func TestTargetVerdicts(t *testing.T) {
	r := targetsReport()
	want := map[string]string{
		"fan1kx64":   verdictNoise,
		"fan5kx64":   verdictMissed,
		"100x64":     verdictMet,
		"100x16k":    verdictMissed,
		"idle":       verdictMet,
		"handshakes": verdictMissed,
	}
	for _, tg := range round2Targets(r.Idle) {
		o := r.evaluate(tg)
		if o.verdict != want[tg.scenario] {
			t.Errorf("%s: %s (median %v, [%v, %v]), want %s", tg.scenario, o.verdict, o.median, o.lo, o.hi, want[tg.scenario])
		}
		if o.n != 10 || !o.ciOK {
			t.Errorf("%s: n %d, interval %v", tg.scenario, o.n, o.ciOK)
		}
	}

	fan := r.evaluate(round2Targets(r.Idle)[0])
	if fan.median != 1 || fan.lo != 0.9 || fan.hi != 1.1 {
		t.Errorf("fan1kx64: median %v [%v, %v], want 1 [0.9, 1.1] against the lower peer of each rep", fan.median, fan.lo, fan.hi)
	}
	if lost := r.evaluate(round2Targets(r.Idle)[1]); lost.lost != 1 || lost.median != 0.8 {
		t.Errorf("fan5kx64: lost %d, median %v; want 1 lost, median 0.8 (missed for the loss alone)", lost.lost, lost.median)
	}
	idle := r.evaluate(round2Targets(r.Idle)[4])
	if idle.lo != 8.05 || idle.hi != 8.4 || math.Abs(idle.refRatio-0.8225) > 1e-9 {
		t.Errorf("idle: [%v, %v] KiB, ratio to gws %v; want [8.05, 8.4], 0.8225", idle.lo, idle.hi, idle.refRatio)
	}
	if hs := r.evaluate(round2Targets(r.Idle)[5]); hs.p > 0.001 {
		t.Errorf("handshakes: p = %v for samples apart, want < 0.001", hs.p)
	}
}

func TestTargetTable(t *testing.T) {
	r := targetsReport()
	md := r.markdown()
	section, _, _ := strings.Cut(md[strings.Index(md, "## nows against the targets"):], "## Results")
	for _, want := range []string{
		"| echo, 100 connections × 64 B: server CPU per message ≤ 1.05 × gws | gws | 10 | 1.000× | 0.980× – 1.020× | 1.000 | **met** |",
		"| echo, 100 connections × 16 KiB: server CPU per message ≤ 1.05 × gws | gws | 10 | 1.500× | 1.500× – 1.500× | <0.001 | **missed** |",
		"| the lower of gws and gorilla, per rep | 10 | 1.000× | 0.900× – 1.100× |",
		"**within noise** |",
		"| 10 | 0.800× | 0.800× – 0.800× | <0.001 | **missed**: 1 lost, 0 duplicated |",
		"| idle memory ≤ 9 KiB per connection (RSS per connection, 5,000 held) | none (absolute); ratio to gws shown | 10 | 8.2 KiB (0.82× gws) | 8.1 KiB – 8.4 KiB | <0.001 | **met** |",
		"| handshakes/s ≥ 0.95 × raw coder | raw coder | 10 | 0.500× |",
		"| echo, 100 connections × 64 B, metrics on (nows-metrics): server CPU per message ≤ 1.03 × metrics off | nows | 10 | 1.010× | 1.010× – 1.010× |",
		"### Round 1 targets",
		"| echo, 100 connections × 64 B: msgs/s ≥ melody's | melody | 0 | – | – | – | **not run** |",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("targets section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "too few repetitions") {
		t.Error("10 repetitions called too few")
	}
}

func TestTargetsTooFewReps(t *testing.T) {
	r := targetsReport()
	for id, runs := range r.Samples {
		for name, s := range runs {
			r.Samples[id][name] = s[:2]
		}
	}
	r.Reps = 2
	for _, tg := range round2Targets(r.Idle) {
		if o := r.evaluate(tg); o.ciOK || (o.verdict != verdictNoise && o.lost == 0) {
			t.Errorf("%s, 2 reps: %s, interval %v; want within noise, no interval", tg.scenario, o.verdict, o.ciOK)
		}
	}
	if md := r.markdown(); !strings.Contains(md, "| 2 | 1.500× | – (too few reps) | 0.333 | **within noise** |") || !strings.Contains(md, "too few repetitions (2)") {
		t.Errorf("2 reps:\n%s", md)
	}
}

func TestVerdict(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		lo, hi, bound float64
		higher        bool
		want          string
	}{
		{0.9, 1.0, 1.05, false, verdictMet},
		{0.9, 1.05, 1.05, false, verdictMet},
		{1.0, 1.1, 1.05, false, verdictNoise},
		{1.06, 1.2, 1.05, false, verdictMissed},
		{0.95, 1.2, 0.95, true, verdictMet},
		{0.9, 1.0, 0.95, true, verdictNoise},
		{0.8, 0.94, 0.95, true, verdictMissed},
		{-inf, inf, 1, false, verdictNoise},
		{-inf, inf, 1, true, verdictNoise},
	} {
		if got := verdict(c.lo, c.hi, c.bound, c.higher); got != c.want {
			t.Errorf("verdict(%v, %v, %v, higher %v) = %s, want %s", c.lo, c.hi, c.bound, c.higher, got, c.want)
		}
	}
}

func TestMetricsSection(t *testing.T) {
	r := targetsReport()
	if s := r.metricsSection(); s != "" {
		t.Fatalf("no Go benchmark, yet a section:\n%s", s)
	}
	for i := range 10 {
		r.MetricsBench.Off = append(r.MetricsBench.Off, 1000+float64(i))
		r.MetricsBench.On = append(r.MetricsBench.On, 1020+float64(i))
	}
	md := r.markdown()
	for _, want := range []string{"## Metrics on: a Go benchmark", "| ns per message, median | 1004 | 1024 | 1.020× | 1.020× – 1.020× |", "10 runs each way"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
