package main

import (
	"fmt"
	"strings"
)

// recFigure is one row of the recovery scenario's table: a figure of each
// repetition, its median and the median's interval.
type recFigure struct {
	en, zh string
	metric func(sample) float64
}

var recFigures = []recFigure{
	{"every client recovered, from the restart (ms)", "全部客户端恢复完毕，从重启算起（ms）", func(s sample) float64 { return s.RecTotalMs }},
	{"per client, from the restart: p50 (ms)", "每个客户端，从重启算起：p50（ms）", func(s sample) float64 { return s.RecP50Ms }},
	{"per client, from the restart: p99 (ms)", "每个客户端，从重启算起：p99（ms）", func(s sample) float64 { return s.RecP99Ms }},
	{"per client, from its successful attempt: p50 (ms)", "每个客户端，从它成功的那次尝试算起：p50（ms）", func(s sample) float64 { return s.RecAttemptP50Ms }},
	{"per client, from its successful attempt: p99 (ms)", "每个客户端，从它成功的那次尝试算起：p99（ms）", func(s sample) float64 { return s.RecAttemptP99Ms }},
	{"store reads (Redis EVALSHA and EVAL calls)", "存储读取（Redis 的 EVALSHA 和 EVAL 调用）", func(s sample) float64 { return float64(s.StoreReads) }},
	{"server CPU (ms)", "服务器 CPU（ms）", func(s sample) float64 { return s.RecServerCPUms }},
	{"Redis CPU (ms)", "Redis CPU（ms）", func(s sample) float64 { return s.RecRedisCPUms }},
	{"load client CPU (ms)", "负载客户端 CPU（ms）", func(s sample) float64 { return s.RecLoadCPUms }},
}

// recoveryTable renders the recovery scenario's figures, then its totals
// over every repetition.
func (r *report) recoveryTable(id string) string {
	runs := r.Samples[id]["nows"]
	var b strings.Builder
	b.WriteString(r.tr("| figure | reps | median | 95 % interval |\n", "| 数据 | 重复次数 | 中位数 | 95 % 区间 |\n"))
	b.WriteString("|---|--:|--:|--:|\n")
	for _, f := range recFigures {
		var xs []float64
		for _, s := range runs {
			if x := f.metric(s); valid(x) {
				xs = append(xs, x)
			}
		}
		interval := "–"
		if lo, hi, ok := medianCI(xs, confidence); ok {
			interval = fmtNum(lo, 0) + " – " + fmtNum(hi, 0)
		} else if len(xs) > 0 {
			interval = r.tr("– (too few reps)", "–（重复次数太少）")
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", r.tr(f.en, f.zh), len(xs), fmtNum(medianOf(xs), 0), interval)
	}
	sum := func(f func(sample) int64) string { return fmtCount(int(r.total(id, "nows", f))) }
	b.WriteString(r.tr("\n| clients | recovered every message | messages recovered | lost | duplicated or out of order | joins not recovered | errors |\n",
		"\n| 客户端 | 收全了所有消息 | 恢复的消息 | 丢失 | 重复或乱序 | 未恢复的加入 | 错误 |\n"))
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
		sum(func(s sample) int64 { return s.RecClients }), sum(func(s sample) int64 { return s.RecDone }),
		sum(func(s sample) int64 { return s.RecMessages }), sum(func(s sample) int64 { return s.Lost }),
		sum(func(s sample) int64 { return s.Dup }), sum(func(s sample) int64 { return s.NotRecovered }),
		sum(func(s sample) int64 { return s.Errors }))
	for _, s := range runs {
		if s.Note != "" {
			fmt.Fprintf(&b, r.tr("\nFirst error: %s\n", "\n第一个错误：%s\n"), strings.Join(strings.Fields(s.Note), " "))
			break
		}
	}
	return b.String()
}

// recoverySection renders the recovery part of the page, or "" when the
// run had no recovery scenario.
func (r *report) recoverySection() string {
	if !r.hasKind("recovery") {
		return ""
	}
	return fmt.Sprintf(r.tr(recoveryEN, recoveryZH), fmtCount(r.RecClients), r.RecMessages, fmtCount(recWindow), r.reps(),
		r.tablesOf(func(k string) bool { return k == "recovery" }))
}

const recoveryEN = `
## Recovery

How long clients take to get back the messages they missed while their
server was down, and what it costs. %s clients (framework/client, in a
process of their own) are in one room with history in Redis
(framework/history/redishistory), and each has received a first message
from it. The server is killed (SIGKILL), %d messages are published to the
room while it is down (by a Publisher: framework.NewHub with the same
history), and the server is started again on the same address. Each
client reconnects by itself and joins the room again with the position of
its last message; the server sends it what it missed. The clock runs from
the moment the restarted server listens until every client has received
every missed message, exactly once and in order, after a join that said
it was recovered (OnRecovery with Recovered true).

- Server: examples/benchmark/servers/history, an events route whose
  OnJoin accepts the room, with the default Options (so each history read
  is bounded by the hub's PublishTimeout, 2 s); a window of %s messages,
  in a redis-server started for each repetition on 127.0.0.1, without
  persistence.
- Clients: examples/benchmark/cmd/recovery, with the client's default
  reconnect delays: before each attempt a random wait of up to 250 ms,
  doubled after each failed attempt, up to 30 s. "From the restart"
  includes that wait; "from its successful attempt" leaves it out: the
  dial, the handshake, the join with a position and the missed messages.
  Per-client times are of the clients that recovered every message.
- Store reads: the Lua script calls Redis served (EVALSHA and EVAL, from
  INFO commandstats) from just before the restart to the end; the store
  reads a room once for each join with a position. CPU: utime+stime from
  /proc/PID/stat over the same span (the server's since its start, the
  load client's from the restart to its result).
- Medians of %s, each with the 95 %% interval of the median as
  above; the totals are over every repetition. Lost, duplicated and
  out-of-order messages must be 0; a join not recovered (its reason is in
  the errors) means the app would have had to fetch its state again.
%s`

const recoveryZH = `
## 恢复

服务器宕机期间客户端错过的消息，要多久才能拿回来，代价是多少。%s 个客户端
（framework/client，运行在独立的进程中）在同一个房间里，房间的历史保存在 Redis 中
（framework/history/redishistory），每个客户端都已从房间收到第一条消息。随后服务器被
杀死（SIGKILL），在它宕机期间向房间发布 %d 条消息（由一个 Publisher 发布：使用同样历史
配置的 framework.NewHub），然后服务器在同一地址上重新启动。每个客户端自行重连，并带着它
最后一条消息的位置重新加入房间；服务器把它错过的消息发给它。计时从重启后的服务器开始
监听起，到每个客户端都在一次报告已恢复的加入（OnRecovery 的 Recovered 为 true）之后，
按顺序、恰好一次地收到了每一条错过的消息为止。

- 服务器：examples/benchmark/servers/history，一个 events 路由，它的 OnJoin 接受这个
  房间，使用默认的 Options（因此每次历史读取都受 hub 的 PublishTimeout 限制，2 秒）；
  窗口为 %s 条消息，保存在每次重复都重新启动的 redis-server 中（127.0.0.1，不持久化）。
- 客户端：examples/benchmark/cmd/recovery，使用客户端默认的重连延迟：每次尝试之前随机
  等待最多 250 毫秒，每失败一次加倍，最多 30 秒。“从重启算起”包含这段等待；“从它成功的
  那次尝试算起”则不包含：只有拨号、握手、带位置的加入和错过的消息。
  每个客户端的时间只统计收全了所有消息的客户端。
- 存储读取：从重启之前到结束，Redis 执行的 Lua 脚本调用（EVALSHA 和 EVAL，来自 INFO
  commandstats）；每次带位置的加入，存储读取房间一次。CPU：同一时段的 utime+stime，来自
  /proc/PID/stat（服务器的从它启动算起，负载客户端的从重启算到它给出结果）。
- 取 %s的中位数，每个中位数附上如上所述的 95 %% 区间；合计覆盖所有重复。丢失、
  重复和乱序的消息都必须为 0；未恢复的加入（原因见错误）意味着应用本需要重新获取自己的
  状态。
%s`
