//go:build linux

package main

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// runSweep runs the cluster once for each node count and room size (cfg
// gives the broker, rate, duration and the rest), printing each result to
// stderr as it comes.
func runSweep(cfg config, nodes, members []int) []runResult {
	var runs []runResult
	for _, n := range nodes {
		for _, m := range members {
			c := cfg
			c.nodes, c.members = n, m
			r := runCluster(c)
			fmt.Fprintf(os.Stderr, "cluster: sweep: nodes %d, members %d: %.0f deliveries/s, p99 %.1f ms, node CPU %.2f µs/delivery, lost %d, dup %d (%v)\n",
				n, m, r.res.DeliveriesPerSec, r.res.P99us/1e3, nodeCPU(r), r.res.Lost, r.res.Dup, r.err)
			runs = append(runs, r)
		}
	}
	return runs
}

// nodeCPU returns the nodes' CPU time per delivery, all nodes together:
// their CPU time over their deliveries.
func nodeCPU(r runResult) float64 {
	var cpu float64
	var n int64
	for _, nd := range r.res.Nodes {
		cpu += nd.CPUusPerDelivery * float64(nd.Deliveries)
		n += nd.Deliveries
	}
	if n == 0 {
		return 0
	}
	return cpu / float64(n)
}

// nodeCPURange returns the lowest and highest CPU time per delivery of one
// node.
func nodeCPURange(r runResult) (lo, hi float64) {
	for i, nd := range r.res.Nodes {
		if i == 0 || nd.CPUusPerDelivery < lo {
			lo = nd.CPUusPerDelivery
		}
		hi = max(hi, nd.CPUusPerDelivery)
	}
	return lo, hi
}

// sweepReport renders the sweep as a Markdown table.
func sweepReport(runs []runResult) string {
	var b strings.Builder
	b.WriteString("| nodes | members | per node | deliveries/s | p50 (ms) | p99 (ms) | lost | dup | node CPU µs/delivery (each node) | broker CPU µs/broadcast | cluster CPU µs/delivery | result |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|---|\n")
	for _, r := range runs {
		lo, hi := nodeCPURange(r)
		each := fmt.Sprintf("%.2f", nodeCPU(r))
		if r.cfg.nodes > 1 {
			each += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
		}
		broker := "–"
		cluster := nodeCPU(r)
		if r.res.BrokerCPUus > 0 && r.res.Broadcasts > 0 {
			broker = short(r.res.BrokerCPUus / float64(r.res.Broadcasts))
			cluster += r.res.BrokerCPUus / float64(max(r.res.Deliveries, 1))
		}
		verdict := "ok"
		if r.err != nil {
			verdict = strings.SplitN(r.err.Error(), "\n", 2)[0]
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.1f | %.1f | %d | %d | %s | %s | %.2f | %s |\n",
			r.cfg.nodes, thousands(r.cfg.members), thousands(r.cfg.members/r.cfg.nodes), thousands(int(math.Round(r.res.DeliveriesPerSec))),
			r.res.P50us/1e3, r.res.P99us/1e3, r.res.Lost, r.res.Dup, each, broker, cluster, verdict)
	}
	return b.String()
}

// thousands formats n with commas: 16,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// series is one line of a chart: a value per x position (NaN: none).
type series struct {
	label string
	vals  []float64
}

// chart is one panel: a title, the x labels and the lines.
type chart struct {
	title, unit string
	xs          []string
	lines       []series
}

// sweepSVG draws the sweep: the nodes' CPU time per delivery and the p99
// latency against the room size, one line per node count.
func sweepSVG(runs []runResult, nodes, members []int) string {
	xs := make([]string, len(members))
	for i, m := range members {
		xs[i] = thousands(m) + " members"
	}
	cpu := chart{title: "Node CPU time per delivery", unit: "µs", xs: xs}
	p99 := chart{title: "p99 latency, send to receipt", unit: "ms", xs: xs}
	for _, n := range nodes {
		label := fmt.Sprintf("%d nodes", n)
		if n == 1 {
			label = "1 node"
		}
		c, l := series{label: label}, series{label: label}
		for _, m := range members {
			v, p := math.NaN(), math.NaN()
			for _, r := range runs {
				if r.cfg.nodes == n && r.cfg.members == m && r.res.Deliveries > 0 {
					v, p = nodeCPU(r), r.res.P99us/1e3
				}
			}
			c.vals = append(c.vals, v)
			l.vals = append(l.vals, p)
		}
		cpu.lines = append(cpu.lines, c)
		p99.lines = append(p99.lines, l)
	}
	return drawLines([]chart{cpu, p99})
}

// drawLines draws line charts one under the other, with a legend of the
// first chart's lines on top.
func drawLines(charts []chart) string {
	colors := []string{"#2563eb", "#f59e0b", "#10b981", "#a855f7", "#ef4444"}
	const (
		width   = 820
		left    = 60
		right   = 30
		panelH  = 260
		plotTop = 40
		plotH   = 170
	)
	var b strings.Builder
	height := 50 + len(charts)*panelH
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	if len(charts) > 0 {
		x := left
		for i, s := range charts[0].lines {
			fmt.Fprintf(&b, `<rect x="%d" y="14" width="12" height="12" fill="%s"/><text x="%d" y="24">%s</text>`+"\n", x, colors[i%len(colors)], x+16, html.EscapeString(s.label))
			x += 90
		}
	}
	for ci, c := range charts {
		top := 40 + ci*panelH
		maxV := 0.0
		for _, s := range c.lines {
			for _, v := range s.vals {
				if !math.IsNaN(v) {
					maxV = math.Max(maxV, v)
				}
			}
		}
		step := niceStep(maxV / 4)
		maxV = math.Max(step, math.Ceil(maxV/step)*step)
		y := func(v float64) float64 { return float64(top+plotTop+plotH) - v/maxV*plotH }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="600">%s (%s)</text>`+"\n", left, top+20, html.EscapeString(c.title), html.EscapeString(c.unit))
		for v := 0.0; v <= maxV+step/1e6; v += step {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/><text x="%d" y="%.1f" text-anchor="end" fill="#6b7280">%s</text>`+"\n",
				left, y(v), width-right, y(v), left-6, y(v)+4, strconv.FormatFloat(v, 'f', -1, 64))
		}
		plotW := float64(width - left - right)
		x := func(i int) float64 { return float64(left) + plotW*(float64(i)+0.5)/float64(max(len(c.xs), 1)) }
		for i, l := range c.xs {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(i), top+plotTop+plotH+16, html.EscapeString(l))
		}
		for si, s := range c.lines {
			color := colors[si%len(colors)]
			var pts []string
			for i, v := range s.vals {
				if !math.IsNaN(v) {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				}
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
			for i, v := range s.vals {
				if math.IsNaN(v) {
					continue
				}
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %s: %s %s</title></circle>`+"\n",
					x(i), y(v), color, html.EscapeString(s.label), html.EscapeString(c.xs[i]), short(v), html.EscapeString(c.unit))
			}
		}
		// The values, right of each point, moved apart vertically so that
		// close ones stay legible.
		for i := range c.xs {
			type label struct {
				y  float64
				si int
			}
			var ls []label
			for si, s := range c.lines {
				if i < len(s.vals) && !math.IsNaN(s.vals[i]) {
					ls = append(ls, label{y(s.vals[i]) + 3, si})
				}
			}
			slices.SortFunc(ls, func(a, b label) int { return cmp.Compare(a.y, b.y) })
			for j := 1; j < len(ls); j++ {
				ls[j].y = math.Max(ls[j].y, ls[j-1].y+11)
			}
			// Keep the lowest above the axis labels.
			if n := len(ls); n > 0 && ls[n-1].y > y(0)-2 {
				up := ls[n-1].y - (y(0) - 2)
				for j := range ls {
					ls[j].y -= up
				}
			}
			for _, l := range ls {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" fill="%s">%s</text>`+"\n",
					x(i)+8, l.y, colors[l.si%len(colors)], short(c.lines[l.si].vals[i]))
			}
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#111"/>`+"\n", left, y(0), width-right, y(0))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// short formats v with three significant digits, without an exponent.
func short(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// niceStep returns 1, 2 or 5 times a power of ten, at least v.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
