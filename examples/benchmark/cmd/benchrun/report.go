package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"
)

// report holds everything docs/benchmarks.md is made from.
type report struct {
	Machine   machine
	Load      [2]string // 1-minute load average before and after the run
	Date      string
	Reps      int
	Duration  time.Duration
	Idle      int
	Handshake int
	FanDur    time.Duration // sending time of each fan-out run
	FanLoad   int           // deliveries/s each fan-out run asks for
	// RecClients and RecMessages size the recovery scenario: clients,
	// and the messages each misses.
	RecClients, RecMessages int
	Servers                 []string
	Scenarios               []scenario
	Samples                 map[string]map[string][]sample
	Took                    time.Duration
	ClkTck                  int64

	MetricsBench metricsBench // BenchmarkEcho of framework/metrics, off and on

	zh bool // render the Chinese page (docs/zh/benchmarks.md)
}

// median returns the median of the positive values of f over samples, or 0.
func median(samples []sample, f func(sample) float64) float64 {
	var v []float64
	for _, s := range samples {
		if x := f(s); x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// metric picks one figure of a sample.
var (
	msgsPerSec = func(s sample) float64 { return s.MsgsPerSec }
	p99        = func(s sample) float64 { return s.P99us }
	cpuPerMsg  = func(s sample) float64 { return s.CPUusPerMsg }
	rssPerConn = func(s sample) float64 { return s.RSSKiBPer }
	hsPerSec   = func(s sample) float64 { return s.HandshakesPS }
	cpuPerHS   = func(s sample) float64 { return s.CPUusPerHS }
	dlvPerSec  = func(s sample) float64 { return s.DeliveriesPS }
	p50        = func(s sample) float64 { return s.P50us }
	cpuPerDlv  = func(s sample) float64 { return s.CPUusPerDlv }
	cliPerDlv  = func(s sample) float64 { return s.ClientCPUPer }
)

// hasKind reports whether the report has a scenario of kind.
func (r *report) hasKind(kind string) bool {
	return slices.ContainsFunc(r.Scenarios, func(sc scenario) bool { return sc.kind == kind })
}

// total sums f over the samples of scenario id and server.
func (r *report) total(id, server string, f func(sample) int64) int64 {
	var n int64
	for _, s := range r.Samples[id][server] {
		n += f(s)
	}
	return n
}

// value returns the median of metric for scenario id and server.
func (r *report) value(id, server string, metric func(sample) float64) float64 {
	return median(r.Samples[id][server], metric)
}

// ratio returns the median, over the repetitions, of server's figure
// divided by coder's from the same repetition (the two ran the scenario
// within seconds of each other, so drifts of the machine's speed cancel
// out), or 0.
func (r *report) ratio(id, server string, metric func(sample) float64) float64 {
	base, runs := r.Samples[id]["coder"], r.Samples[id][server]
	var ratios []sample
	for i := range min(len(base), len(runs)) {
		if b, v := metric(base[i]), metric(runs[i]); b > 0 && v > 0 {
			ratios = append(ratios, sample{MsgsPerSec: v / b})
		}
	}
	return median(ratios, msgsPerSec)
}

func (r *report) errors(id, server string) int64 {
	var n int64
	for _, s := range r.Samples[id][server] {
		n += s.Errors
	}
	return n
}

// plural returns n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtNum(x float64, prec int) string {
	if x == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.*f", prec, x)
	if prec == 0 && x >= 10000 {
		s = groupThousands(s)
	}
	return s
}

// groupThousands puts thousands separators into the digits s: 5,000.
func groupThousands(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tables renders the result tables in Markdown.
func (r *report) tables() string { return r.tablesOf(func(string) bool { return true }) }

// tablesOf renders the tables of the scenarios whose kind keep accepts.
func (r *report) tablesOf(keep func(kind string) bool) string {
	var b strings.Builder
	for _, sc := range r.Scenarios {
		if !keep(sc.kind) {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", r.tr(sc.title, sc.titleZH))
		servers := r.ran(sc.id)
		switch sc.kind {
		case "echo":
			b.WriteString(r.tr("| server | msgs/s | ÷ coder | p99 (µs) | server CPU µs/msg | ÷ coder | errors |\n",
				"| 服务器 | 消息/秒 | ÷ coder | p99（µs） | 服务器 CPU µs/消息 | ÷ coder | 错误 |\n"))
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
			for _, s := range servers {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d |\n", s,
					fmtNum(r.value(sc.id, s, msgsPerSec), 0), fmtRatio(r.ratio(sc.id, s, msgsPerSec)),
					fmtNum(r.value(sc.id, s, p99), 0),
					fmtNum(r.value(sc.id, s, cpuPerMsg), 2), fmtRatio(r.ratio(sc.id, s, cpuPerMsg)),
					r.errors(sc.id, s))
			}
		case "idle":
			b.WriteString(r.tr("| server | RSS KiB / idle conn | ÷ coder | errors |\n", "| 服务器 | RSS KiB / 空闲连接 | ÷ coder | 错误 |\n"))
			b.WriteString("|---|--:|--:|--:|\n")
			for _, s := range servers {
				fmt.Fprintf(&b, "| %s | %s | %s | %d |\n", s,
					fmtNum(r.value(sc.id, s, rssPerConn), 1), fmtRatio(r.ratio(sc.id, s, rssPerConn)), r.errors(sc.id, s))
			}
		case "handshakes":
			b.WriteString(r.tr("| server | handshakes/s | ÷ coder | server CPU µs/handshake | ÷ coder | errors |\n",
				"| 服务器 | 握手/秒 | ÷ coder | 服务器 CPU µs/握手 | ÷ coder | 错误 |\n"))
			b.WriteString("|---|--:|--:|--:|--:|--:|\n")
			for _, s := range servers {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |\n", s,
					fmtNum(r.value(sc.id, s, hsPerSec), 0), fmtRatio(r.ratio(sc.id, s, hsPerSec)),
					fmtNum(r.value(sc.id, s, cpuPerHS), 0), fmtRatio(r.ratio(sc.id, s, cpuPerHS)),
					r.errors(sc.id, s))
			}
		case "fanout":
			b.WriteString(r.tr("| server | deliveries/s | p50 (µs) | p99 (µs) | ÷ coder | server CPU µs/delivery | ÷ coder | client CPU µs/delivery | lost | dup | errors |\n",
				"| 服务器 | 投递/秒 | p50（µs） | p99（µs） | ÷ coder | 服务器 CPU µs/投递 | ÷ coder | 客户端 CPU µs/投递 | 丢失 | 重复 | 错误 |\n"))
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, s := range servers {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %d |\n", s,
					fmtNum(r.value(sc.id, s, dlvPerSec), 0),
					fmtNum(r.value(sc.id, s, p50), 0), fmtNum(r.value(sc.id, s, p99), 0), fmtRatio(r.ratio(sc.id, s, p99)),
					fmtNum(r.value(sc.id, s, cpuPerDlv), 2), fmtRatio(r.ratio(sc.id, s, cpuPerDlv)),
					fmtNum(r.value(sc.id, s, cliPerDlv), 2),
					r.total(sc.id, s, func(x sample) int64 { return x.Lost }),
					r.total(sc.id, s, func(x sample) int64 { return x.Dup }),
					r.errors(sc.id, s))
			}
		case "recovery":
			b.WriteString(r.recoveryTable(sc.id))
		}
	}
	return b.String()
}

// ran returns the servers that ran scenario id (nows-metrics runs the echo
// scenarios only).
func (r *report) ran(id string) []string {
	var out []string
	for _, s := range r.Servers {
		if len(r.Samples[id][s]) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// svg draws the ratios to raw coder as grouped bar charts: msgs/s and CPU
// per message for each echo scenario, then idle memory and handshakes/s.
func (r *report) svg() string {
	peers := r.peers()
	var echoIDs []scenario
	for _, sc := range r.Scenarios {
		if sc.kind == "echo" {
			echoIDs = append(echoIDs, sc)
		}
	}
	mk := func(title string, metric func(sample) float64) panel {
		p := panel{title: title}
		for _, sc := range echoIDs {
			g := group{label: strings.TrimPrefix(sc.title, "echo, ")}
			for _, s := range peers {
				g.vals = append(g.vals, r.ratio(sc.id, s, metric))
			}
			p.groups = append(p.groups, g)
		}
		return p
	}
	panels := []panel{
		mk("Messages per second ÷ raw coder (higher is better)", msgsPerSec),
		mk("Server CPU per message ÷ raw coder (lower is better)", cpuPerMsg),
	}
	other := panel{title: "Idle memory ÷ raw coder (lower is better) · handshakes/s ÷ raw coder (higher is better)"}
	for _, sc := range r.Scenarios {
		metric := rssPerConn
		label := "RSS per idle connection"
		switch sc.kind {
		case "idle":
		case "handshakes":
			metric, label = hsPerSec, "handshakes/s"
		default:
			continue
		}
		g := group{label: label}
		for _, s := range peers {
			g.vals = append(g.vals, r.ratio(sc.id, s, metric))
		}
		other.groups = append(other.groups, g)
	}
	if len(other.groups) > 0 {
		panels = append(panels, other)
	}
	return drawSVG(peers, panels)
}

// peers returns the servers drawn against coder, in the charts' order.
func (r *report) peers() []string {
	peers := []string{}
	for _, s := range []string{"nows", "melody", "gorilla", "gws"} {
		if slices.Contains(r.Servers, s) {
			peers = append(peers, s)
		}
	}
	return peers
}

// group is one cluster of bars: one per peer.
type group struct {
	label string
	vals  []float64
}

// panel is one bar chart.
type panel struct {
	title  string
	groups []group
}

// drawSVG draws panels of ratios to raw coder, one under the other.
func drawSVG(peers []string, panels []panel) string {
	colors := map[string]string{"nows": "#2563eb", "melody": "#f59e0b", "gorilla": "#10b981", "gws": "#a855f7"}

	const (
		width   = 820
		left    = 50
		right   = 20
		panelH  = 230
		plotTop = 40
		plotH   = 150
	)
	var b strings.Builder
	height := 50 + len(panels)*panelH
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	// Legend.
	x := left
	for _, s := range peers {
		fmt.Fprintf(&b, `<rect x="%d" y="14" width="12" height="12" fill="%s"/><text x="%d" y="24">%s</text>`+"\n", x, colors[s], x+16, s)
		x += 90
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="20" x2="%d" y2="20" stroke="#111" stroke-dasharray="4 3"/><text x="%d" y="24">raw coder/websocket = 1</text>`+"\n", x, x+24, x+30)

	for pi, p := range panels {
		top := 40 + pi*panelH
		maxV := 1.5
		for _, g := range p.groups {
			for _, v := range g.vals {
				maxV = math.Max(maxV, v)
			}
		}
		maxV = math.Ceil(maxV*2) / 2
		y := func(v float64) float64 { return float64(top+plotTop+plotH) - v/maxV*plotH }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="600">%s</text>`+"\n", left, top+20, html.EscapeString(p.title))
		// Grid every 0.5.
		for v := 0.0; v <= maxV+1e-9; v += 0.5 {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/><text x="%d" y="%.1f" text-anchor="end" fill="#6b7280">%.1f</text>`+"\n",
				left, y(v), width-right, y(v), left-6, y(v)+4, v)
		}
		plotW := width - left - right
		gw := float64(plotW) / float64(max(len(p.groups), 1))
		bw := math.Min(28, (gw-24)/float64(max(len(peers), 1)))
		for gi, g := range p.groups {
			gx := float64(left) + gw*float64(gi)
			start := gx + (gw-bw*float64(len(peers)))/2
			for si, v := range g.vals {
				bx := start + bw*float64(si)
				if v == 0 {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#9ca3af">–</text>`+"\n", bx+bw/2, y(0)-3)
					continue
				}
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.2f×</title></rect>`+"\n",
					bx+1, y(v), bw-2, y(0)-y(v), colors[peers[si]], peers[si], v)
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9" fill="#374151">%.2f</text>`+"\n", bx+bw/2, y(v)-3, v)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", gx+gw/2, top+plotTop+plotH+16, html.EscapeString(g.label))
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#111" stroke-dasharray="4 3"/>`+"\n", left, y(1), width-right, y(1))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#111"/>`+"\n", left, y(0), width-right, y(0))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// fanoutSection renders the fan-out part of benchmarks.md, or "" when the
// run had no fan-out scenario.
func (r *report) fanoutSection() string {
	if !r.hasKind("fanout") {
		return ""
	}
	return fmt.Sprintf(r.tr(fanoutEN, fanoutZH), fmtNum(float64(r.FanLoad), 0), r.FanDur, r.tablesOf(func(k string) bool { return k == "fanout" }))
}

const fanoutEN = `
## Fan-out

One room, every connection in it; one more connection publishes messages
of a fixed size at a steady rate and the server broadcasts each one to the
room. Each run asks for %s deliveries a second for %s (broadcasts/s =
deliveries/s ÷ members).

![Fan-out: ratios to raw coder/websocket](benchmarks-fanout.svg)

- Servers, as their users write a room: ` + "`nows`" + ` is
  examples/benchmark/servers/nows (` + "`c.Join(room)`" + ` in OnOpen,
  ` + "`Hub().Broadcast`" + `, the default send queue: 256 messages, close on
  overflow); ` + "`coder`" + ` a hub of clients, each with a channel of 256
  drained by its own writer goroutine (reads left to CloseRead);
  ` + "`gorilla`" + ` the chat example's hub goroutine with a channel and a
  writePump per client, each broadcast a ` + "`websocket.PreparedMessage`" + `;
  ` + "`melody`" + ` ` + "`BroadcastBinaryFilter`" + ` (the publisher's session is
  filtered out); ` + "`gws`" + ` a ` + "`gws.Broadcaster`" + ` per message over the
  room's sockets. Routes: /fanout joins, /fanout/pub publishes.
- Load: examples/benchmark/cmd/fanout in its own process. The members are
  raw sockets read by one epoll loop (a goroutine per connection would take
  more CPU than the server). It waits until every member has received a
  probe broadcast, then sends. Each message carries a sequence number and
  its send time: latency is from the publisher's send to the member's read
  (p50, p99 over every delivery; the histogram has 1.6 %% resolution), and
  every member's sequence numbers are checked: lost and duplicated
  deliveries must be 0. At most 64 broadcasts are in flight; a server that
  cannot keep up shows fewer deliveries/s, not a growing queue.
- Server CPU per delivery: the server's utime+stime from /proc/PID/stat
  over the sending and the delivery of the last message (the room's
  handshakes are not in it), divided by the deliveries. Client CPU per
  delivery likewise, for the load client: the two share the machine.
- "÷ coder": as above, the median of per-repetition ratios to raw
  coder/websocket; below 1 is better for both latency and CPU.
- Latency is the noisiest figure here: a broadcast to 5,000 members is a
  burst of 5,000 writes, and the scheduler's sharing of 2 CPUs among the
  server, the client and anything else moves its tail from run to run by
  a factor of 2 or more. Server CPU per delivery is the figure to compare
  first.
%s`

const fanoutZH = `
## 扇出

一个房间，所有连接都在其中；另有一个连接以固定的速率发布固定大小的消息，服务器把每条
消息广播给房间。每次运行要求每秒 %s 次投递，持续 %s（每秒广播数 = 每秒投递数 ÷ 成员数）。

![扇出：相对原生 coder/websocket 的比值](../benchmarks-fanout.svg)

- 服务器，按各自用户编写房间的方式：` + "`nows`" + ` 是
  examples/benchmark/servers/nows（在 OnOpen 中 ` + "`c.Join(room)`" + `，
  ` + "`Hub().Broadcast`" + `，默认的发送队列：256 条消息，溢出即关闭）；` + "`coder`" + `
  是一个客户端的 hub，每个客户端有一个容量 256 的 channel，由它自己的写 goroutine 取出
  （读交给 CloseRead）；` + "`gorilla`" + ` 是 chat 示例中带 channel 的 hub goroutine，
  每个客户端一个 writePump，每次广播一个 ` + "`websocket.PreparedMessage`" + `；
  ` + "`melody`" + ` 用 ` + "`BroadcastBinaryFilter`" + `（过滤掉发布者的会话）；
  ` + "`gws`" + ` 每条消息对房间的套接字用一个 ` + "`gws.Broadcaster`" + `。路由：/fanout
  加入，/fanout/pub 发布。
- 负载：examples/benchmark/cmd/fanout，运行在独立的进程中。成员是由一个 epoll 循环读取的
  原始套接字（每个连接一个 goroutine 会比服务器本身耗用更多 CPU）。它等到每个成员都收到
  一次探测广播后才开始发送。每条消息带有序号和发送时间：延迟从发布者发送算到成员读到
  （对所有投递取 p50、p99；直方图分辨率 1.6 %%），并检查每个成员收到的序号：丢失和重复的
  投递都必须为 0。同时在途的广播最多 64 条；跟不上的服务器表现为每秒投递数变少，而不是
  队列不断增长。
- 每次投递的服务器 CPU：服务器在发送期间直到最后一条消息投递完的 utime+stime（来自
  /proc/PID/stat；不含房间的握手），除以投递数。每次投递的客户端 CPU 同理，针对负载
  客户端：两者共用这台机器。
- “÷ coder”：同上，是逐次重复相对原生 coder/websocket 比值的中位数；对延迟和 CPU，
  都是小于 1 更好。
- 延迟是这里噪声最大的数据：向 5,000 个成员的一次广播就是一阵 5,000 次写，而调度器在
  服务器、客户端和其他任务之间分配 2 个 CPU 的方式，会让它的尾部在不同运行之间相差 2 倍
  甚至更多。应当首先比较每次投递的服务器 CPU。
%s`

// fanoutSVG draws the fan-out ratios to raw coder: server CPU per delivery
// and p99 latency for each fan-out scenario.
func (r *report) fanoutSVG() string {
	peers := r.peers()
	mk := func(title string, metric func(sample) float64) panel {
		p := panel{title: title}
		for _, sc := range r.Scenarios {
			if sc.kind != "fanout" {
				continue
			}
			label, _, _ := strings.Cut(strings.TrimPrefix(sc.title, "fan-out, "), ", ") // no rate: it is in the tables
			g := group{label: label}
			for _, s := range peers {
				g.vals = append(g.vals, r.ratio(sc.id, s, metric))
			}
			p.groups = append(p.groups, g)
		}
		return p
	}
	return drawSVG(peers, []panel{
		mk("Fan-out: server CPU per delivery ÷ raw coder (lower is better)", cpuPerDlv),
		mk("Fan-out: p99 latency ÷ raw coder (lower is better)", p99),
	})
}
