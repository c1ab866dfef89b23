package main

import (
	"fmt"
	"math"
	"strings"
)

// target is one figure nows must reach. Unless absolute, it is decided on
// the ratio of nows's figure to its reference's from the same repetition.
type target struct {
	name     string // what it asks, as the table shows it
	nameZH   string // the same on the Chinese page
	subject  string // the server measured: nows unless set
	scenario string // scenario id
	metric   func(sample) float64
	refs     []string // the reference: in each repetition, the best of these servers
	bound    float64  // the ratio (or, absolute, nows's figure) must not cross it
	higher   bool     // higher is better: the figure must be ≥ bound, else ≤ bound
	absolute bool     // bound applies to nows's own figure; the ratio to refs is shown beside it
	unit     string   // unit of an absolute figure
	noLoss   bool     // nows must lose and duplicate no delivery in any repetition
}

// The verdicts.
const (
	verdictMet    = "met"
	verdictMissed = "missed"
	verdictNoise  = "within noise"
	verdictNotRun = "not run"
)

// round2Targets are the targets of the second performance round, each
// measured in this one run. idle is the number of idle connections held.
func round2Targets(idle int) []target {
	fan := func(id, members string) target {
		return target{
			name:     fmt.Sprintf("fan-out, %s members × 64 B: server CPU per delivery ≤ the best peer's; 0 lost or duplicated", members),
			nameZH:   fmt.Sprintf("扇出，%s 个成员 × 64 B：每次投递的服务器 CPU ≤ 最好的同类库；丢失或重复为 0", members),
			scenario: id, metric: cpuPerDlv, refs: []string{"gws", "gorilla"}, bound: 1, noLoss: true,
		}
	}
	echo := func(id, size string) target {
		return target{
			name:     fmt.Sprintf("echo, 100 connections × %s: server CPU per message ≤ 1.05 × gws", size),
			nameZH:   fmt.Sprintf("回显，100 个连接 × %s：每条消息的服务器 CPU ≤ 1.05 × gws", size),
			scenario: id, metric: cpuPerMsg, refs: []string{"gws"}, bound: 1.05,
		}
	}
	return []target{
		fan("fan1kx64", "1,000"),
		fan("fan5kx64", "5,000"),
		echo("100x64", "64 B"),
		echo("100x16k", "16 KiB"),
		{
			name:     fmt.Sprintf("idle memory ≤ 9 KiB per connection (RSS per connection, %s held)", groupThousands(fmt.Sprint(idle))),
			nameZH:   fmt.Sprintf("空闲内存 ≤ 每连接 9 KiB（每连接 RSS，保持 %s 个）", groupThousands(fmt.Sprint(idle))),
			scenario: "idle", metric: rssPerConn, refs: []string{"gws"}, bound: 9, absolute: true, unit: "KiB",
		},
		{name: "handshakes/s ≥ 0.95 × raw coder", nameZH: "握手/秒 ≥ 0.95 × 原生 coder", scenario: "handshakes", metric: hsPerSec, refs: []string{"coder"}, bound: 0.95, higher: true},
		{
			name:     "echo, 100 connections × 64 B, metrics on (nows-metrics): server CPU per message ≤ 1.03 × metrics off",
			nameZH:   "回显，100 个连接 × 64 B，指标打开（nows-metrics）：每条消息的服务器 CPU ≤ 1.03 × 指标关闭",
			scenario: "100x64", subject: "nows-metrics", metric: cpuPerMsg, refs: []string{"nows"}, bound: 1.03,
		},
	}
}

// round1Targets are the targets of the first performance round, decided the
// same way.
func round1Targets() []target {
	var ts []target
	for _, e := range []struct{ id, size string }{{"100x64", "64 B"}, {"100x16k", "16 KiB"}} {
		prefix := "echo, 100 connections × " + e.size + ": "
		zh := "回显，100 个连接 × " + e.size + "："
		ts = append(ts,
			target{name: prefix + "server CPU per message ≤ 1.10 × raw coder", nameZH: zh + "每条消息的服务器 CPU ≤ 1.10 × 原生 coder",
				scenario: e.id, metric: cpuPerMsg, refs: []string{"coder"}, bound: 1.10},
			target{name: prefix + "msgs/s ≥ 0.90 × raw coder", nameZH: zh + "消息/秒 ≥ 0.90 × 原生 coder",
				scenario: e.id, metric: msgsPerSec, refs: []string{"coder"}, bound: 0.90, higher: true},
			target{name: prefix + "msgs/s ≥ melody's", nameZH: zh + "消息/秒 ≥ melody",
				scenario: e.id, metric: msgsPerSec, refs: []string{"melody"}, bound: 1, higher: true},
		)
	}
	return append(ts,
		target{name: "idle RSS per connection ≤ 1.10 × raw coder", nameZH: "每个空闲连接的 RSS ≤ 1.10 × 原生 coder",
			scenario: "idle", metric: rssPerConn, refs: []string{"coder"}, bound: 1.10},
		target{name: "handshakes/s ≥ 0.90 × raw coder", nameZH: "握手/秒 ≥ 0.90 × 原生 coder",
			scenario: "handshakes", metric: hsPerSec, refs: []string{"coder"}, bound: 0.90, higher: true},
	)
}

// outcome is how nows did against one target.
type outcome struct {
	n         int     // repetitions with a figure for both nows and the reference
	median    float64 // of the per-repetition ratios, or of nows's figures if absolute
	lo, hi    float64 // the 95 % interval of median (±Inf when n is too small)
	ciOK      bool    // whether n was enough for an interval
	refRatio  float64 // absolute targets: the median ratio of nows to the reference
	p         float64 // U test of nows's figures against the reference's; NaN if none
	lost, dup int64   // nows's, over all repetitions, for noLoss targets
	verdict   string
}

// evaluate decides t from the samples of the run.
func (r *report) evaluate(t target) outcome {
	nows, ref := r.paired(t)
	if len(nows) == 0 {
		return outcome{verdict: verdictNotRun, p: math.NaN()}
	}
	ratios := make([]float64, len(nows))
	for i := range nows {
		ratios[i] = nows[i] / ref[i]
	}
	o := outcome{n: len(nows), p: uTest(nows, ref)}
	values := ratios
	if t.absolute {
		values, o.refRatio = nows, medianOf(ratios)
	}
	o.median = medianOf(values)
	o.lo, o.hi, o.ciOK = medianCI(values, confidence)
	o.verdict = verdict(o.lo, o.hi, t.bound, t.higher)
	if t.noLoss {
		o.lost = r.total(t.scenario, "nows", func(s sample) int64 { return s.Lost })
		o.dup = r.total(t.scenario, "nows", func(s sample) int64 { return s.Dup })
		if o.lost+o.dup > 0 {
			o.verdict = verdictMissed
		}
	}
	return o
}

// verdict decides a target from the interval [lo, hi] of its median: met
// when the whole interval is on the target's side of bound, missed when the
// whole of it is on the wrong side, within noise when it contains bound
// (as it does when there were too few repetitions for an interval).
func verdict(lo, hi, bound float64, higher bool) string {
	if higher {
		lo, hi, bound = -hi, -lo, -bound
	}
	switch {
	case hi <= bound:
		return verdictMet
	case lo > bound:
		return verdictMissed
	default:
		return verdictNoise
	}
}

// paired returns nows's figure and the reference's from each repetition in
// which both have one; the reference's is the best of t.refs's in that
// repetition.
func (r *report) paired(t target) (nows, ref []float64) {
	runs := r.Samples[t.scenario]
	subject := t.subject
	if subject == "" {
		subject = "nows"
	}
	for i, s := range runs[subject] {
		v := t.metric(s)
		best := 0.0
		for _, name := range t.refs {
			if i >= len(runs[name]) {
				continue
			}
			x := t.metric(runs[name][i])
			if x > 0 && (best == 0 || (t.higher && x > best) || (!t.higher && x < best)) {
				best = x
			}
		}
		if valid(v) && valid(best) {
			nows, ref = append(nows, v), append(ref, best)
		}
	}
	return nows, ref
}

// valid reports whether x is a figure: positive and finite.
func valid(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

// targetTable renders the targets ts and nows's outcomes as a Markdown
// table.
func (r *report) targetTable(ts []target) string {
	var b strings.Builder
	b.WriteString(r.tr("| target | reference | reps | median | 95 % interval | p | verdict |\n",
		"| 目标 | 参照 | 重复次数 | 中位数 | 95 % 区间 | p | 结论 |\n"))
	b.WriteString("|---|---|--:|--:|--:|--:|---|\n")
	for _, t := range ts {
		o := r.evaluate(t)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s |\n",
			r.tr(t.name, t.nameZH), r.refName(t), o.n, fmtMedian(t, o), r.fmtInterval(t, o), fmtP(o.p), r.fmtVerdict(o))
	}
	return b.String()
}

// refName says what nows is compared with.
func (r *report) refName(t target) string {
	switch {
	case t.absolute:
		return r.tr("none (absolute); ratio to "+strings.Join(t.refs, ", ")+" shown", "无（绝对值）；另列出相对 "+strings.Join(t.refs, "、")+" 的比值")
	case len(t.refs) == 1 && t.refs[0] == "coder":
		return r.tr("raw coder", "原生 coder")
	case len(t.refs) == 1:
		return t.refs[0]
	case t.higher:
		return r.tr("the higher of "+strings.Join(t.refs, " and ")+", per rep", "每次重复中 "+strings.Join(t.refs, " 与 ")+" 的较高者")
	default:
		return r.tr("the lower of "+strings.Join(t.refs, " and ")+", per rep", "每次重复中 "+strings.Join(t.refs, " 与 ")+" 的较低者")
	}
}

// fmtFigure formats a ratio, or an absolute target's figure.
func fmtFigure(t target, x float64) string {
	if t.absolute {
		return fmt.Sprintf("%.1f %s", x, t.unit)
	}
	return fmt.Sprintf("%.3f×", x)
}

func fmtMedian(t target, o outcome) string {
	if o.n == 0 {
		return "–"
	}
	s := fmtFigure(t, o.median)
	if t.absolute {
		s += fmt.Sprintf(" (%.2f× %s)", o.refRatio, strings.Join(t.refs, ", "))
	}
	return s
}

func (r *report) fmtInterval(t target, o outcome) string {
	switch {
	case o.n == 0:
		return "–"
	case !o.ciOK:
		return r.tr("– (too few reps)", "–（重复次数太少）")
	}
	return fmtFigure(t, o.lo) + " – " + fmtFigure(t, o.hi)
}

// fmtP formats a p-value as benchstat does, to 3 places.
func fmtP(p float64) string {
	switch {
	case math.IsNaN(p):
		return "–"
	case p < 0.001:
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// verdictsZH are the verdicts on the Chinese page.
var verdictsZH = map[string]string{verdictMet: "达成", verdictMissed: "未达成", verdictNoise: "在噪声之内", verdictNotRun: "未运行"}

func (r *report) fmtVerdict(o outcome) string {
	v := "**" + r.tr(o.verdict, verdictsZH[o.verdict]) + "**"
	if o.lost+o.dup > 0 {
		v += fmt.Sprintf(r.tr(": %d lost, %d duplicated", "：丢失 %d，重复 %d"), o.lost, o.dup)
	}
	return v
}

// targetsSection renders the body of "nows against the targets": the
// method in brief, the second round's targets and the first round's.
func (r *report) targetsSection() string {
	var b strings.Builder
	fmt.Fprintf(&b, r.tr(targetsEN, targetsZH), r.Reps)
	if r.Reps < 6 {
		fmt.Fprintf(&b, r.tr("\nThis run has too few repetitions (%d) for a 95 %% interval: every target reads \"within noise\".\n",
			"\n本次运行的重复次数（%d）太少，算不出 95 %% 区间：每项目标的结论都是“在噪声之内”。\n"), r.Reps)
	}
	fmt.Fprintf(&b, r.tr("\n%s\n### Round 1 targets\n\nThe first round's targets, decided the same way from the same run.\n\n%s",
		"\n%s\n### 第一轮目标\n\n第一轮的目标，用同样的方法、根据同一次运行判定。\n\n%s"),
		r.targetTable(round2Targets(r.Idle)), r.targetTable(round1Targets()))
	b.WriteString(r.metricsSection())
	return b.String()
}

const targetsEN = `The targets of the second performance round, all measured side by side
in this one run. Each is decided from the run's repetitions (%d here), not
from instruction counts. In each repetition nows and its reference ran the
same scenario within a minute of each other, so the ratio of their figures
from that repetition cancels most of the machine's drift. "median" is the
median of these per-repetition ratios, and "95 %% interval" a confidence
interval for it: the pair of order statistics of the ratios that covers
the median with at least 95 %% probability whatever their distribution
(the kind of interval benchstat gives); it needs 6 repetitions or more. A
target is **met** when the whole interval satisfies it, **missed** when the
whole interval is on the wrong side, and **within noise** when the interval
contains the bound: this run can neither confirm nor rule the target out,
and the median says only which side is likelier. p is the two-sided
Mann–Whitney U test of nows's figures against the reference's from the
same repetitions, as benchstat reports it: below 0.05, the two differ by
more than the noise.

- Fan-out: the reference is, in each repetition, whichever of gws and
  gorilla used less server CPU per delivery in it; nows must also lose and
  duplicate no delivery in any repetition, else the target is missed.
- Echo: server CPU per message, gws the reference.
- Idle memory: the target is absolute, so the median and the interval are
  of nows's own RSS per connection; the median ratio to gws is beside it
  (the verdict does not use it), and p compares nows with gws.
- Handshakes/s: higher is better, so the interval's lower end must reach
  0.95 for "met".
- Metrics on: nows-metrics (the same echo server with its admin listener
  on, so its metrics count every event) against nows (metrics off), the
  observability target.
`

const targetsZH = `第二轮性能目标，全部在这一次运行中并排测量。每项目标都根据本次运行的各次重复
（这里是 %d 次）判定，而不是根据指令计数。每次重复中，nows 和它的参照在一分钟之内先后
运行同一个场景，所以同一次重复中两者数据的比值抵消了机器的大部分漂移。“中位数”是这些
逐次重复比值的中位数，“95 %% 区间”是它的置信区间：比值的一对次序统计量，无论其分布如何，
都以至少 95 %% 的概率覆盖中位数（benchstat 给出的就是这种区间）；它需要 6 次或更多重复。
整个区间都满足目标时，目标**达成**；整个区间都落在错误一侧时，**未达成**；区间包含界限
时，**在噪声之内**：本次运行既不能确认也不能排除这项目标，中位数只说明哪一侧可能性更大。
p 是 nows 的数据与参照在同样几次重复中的数据做双侧 Mann–Whitney U 检验的结果，与
benchstat 的报告方式相同：低于 0.05 表示两者的差别超出了噪声。

- 扇出：参照是每次重复中 gws 和 gorilla 里每次投递服务器 CPU 较少的那一个；nows 还必须
  在所有重复中都不丢失、不重复任何投递，否则目标未达成。
- 回显：每条消息的服务器 CPU，以 gws 为参照。
- 空闲内存：目标是绝对值，所以中位数和区间针对的是 nows 自己的每连接 RSS；旁边列出相对
  gws 的比值中位数（结论不使用它），p 比较的是 nows 与 gws。
- 握手/秒：越高越好，所以区间的下端必须达到 0.95 才算“达成”。
- 指标打开：nows-metrics（同一个回显服务器，打开管理监听器，因此它的指标统计每一个事件）
  对比 nows（指标关闭），即可观测性目标。
`
