package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// metricsBench is BenchmarkEcho of framework/metrics (a 64-byte echo over
// a real socket, in one process), with metrics off and on: the ns per
// message of each run.
type metricsBench struct {
	Off []float64 `json:"off_ns,omitempty"`
	On  []float64 `json:"on_ns,omitempty"`
}

// runMetricsBench builds the test binary of framework/metrics (in the main
// module, root) into dir and runs its BenchmarkEcho reps times each way,
// off and on alternately so that the machine's drift falls on both.
func runMetricsBench(ctx context.Context, root, dir string, reps int) (metricsBench, error) {
	var mb metricsBench
	bin := filepath.Join(dir, "metrics.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./framework/metrics")
	build.Dir, build.Stderr = root, os.Stderr
	if err := build.Run(); err != nil {
		return mb, fmt.Errorf("build framework/metrics's tests: %w", err)
	}
	for rep := 1; rep <= reps; rep++ {
		for _, on := range runOrderBool(rep) {
			ns, err := echoNs(ctx, bin, on)
			if err != nil {
				return mb, err
			}
			if on {
				mb.On = append(mb.On, ns)
			} else {
				mb.Off = append(mb.Off, ns)
			}
			fmt.Fprintf(os.Stderr, "benchrun: rep %d/%d  Go BenchmarkEcho, metrics on=%v: %.0f ns/op\n", rep, reps, on, ns)
		}
	}
	return mb, nil
}

// runOrderBool alternates which way runs first.
func runOrderBool(rep int) []bool {
	if rep%2 == 0 {
		return []bool{true, false}
	}
	return []bool{false, true}
}

// echoNs runs one BenchmarkEcho, metrics on or off, and returns its ns/op.
func echoNs(ctx context.Context, bin string, on bool) (float64, error) {
	sub := "off"
	if on {
		sub = "on"
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^BenchmarkEcho$/^metrics="+sub+"$", "-test.benchtime", "20000x")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("BenchmarkEcho metrics=%s: %w\n%s", sub, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if f[i] == "ns/op" && strings.HasPrefix(f[0], "BenchmarkEcho/") {
				return strconv.ParseFloat(f[i-1], 64)
			}
		}
	}
	return 0, fmt.Errorf("BenchmarkEcho metrics=%s: no ns/op in:\n%s", sub, out)
}

// metricsSection renders the Go benchmark's comparison, or "" without one.
func (r *report) metricsSection() string {
	mb := r.MetricsBench
	if len(mb.Off) == 0 || len(mb.Off) != len(mb.On) {
		return ""
	}
	ratios := make([]float64, len(mb.On))
	for i := range mb.On {
		ratios[i] = mb.On[i] / mb.Off[i]
	}
	lo, hi, ok := medianCI(ratios, confidence)
	interval := r.tr("– (too few reps)", "–（重复次数太少）")
	if ok {
		interval = fmt.Sprintf("%.3f× – %.3f×", lo, hi)
	}
	return fmt.Sprintf(r.tr(metricsEN, metricsZH), len(mb.Off), medianOf(mb.Off), medianOf(mb.On), medianOf(ratios), interval, fmtP(uTest(mb.On, mb.Off)))
}

const metricsEN = `
## Metrics on: a Go benchmark

BenchmarkEcho of framework/metrics: one 64-byte message echoed over a real
socket, client and server in one process, without an Observer (off) and
with a metrics.Metrics (on), %d runs each way, alternated:

| | off | on | on ÷ off, median of the pairs | 95 %% interval | p |
|---|--:|--:|--:|--:|--:|
| ns per message, median | %.0f | %.0f | %.3f× | %s | %s |

(The same comparison in benchstat's terms: ` + "`go test -run '^$' -bench Echo -count 10 ./framework/metrics | benchstat -col /metrics -`" + `.)
`

const metricsZH = `
## 指标打开：一个 Go 基准测试

framework/metrics 的 BenchmarkEcho：一条 64 字节的消息经由真实的套接字回显，客户端和
服务器在同一个进程中，不带 Observer（关闭）和带一个 metrics.Metrics（打开），每种方式
各运行 %d 次，交替进行：

| | 关闭 | 打开 | 打开 ÷ 关闭，逐对的中位数 | 95 %% 区间 | p |
|---|--:|--:|--:|--:|--:|
| 每条消息的 ns，中位数 | %.0f | %.0f | %.3f× | %s | %s |

（用 benchstat 的说法，同样的比较是：` + "`go test -run '^$' -bench Echo -count 10 ./framework/metrics | benchstat -col /metrics -`" + `。）
`
