// Command benchrun builds the five servers of the benchmark (nows from
// examples/echo and, for fan-out, servers/nows; raw coder/websocket,
// gorilla, melody, gws), the nows load generator and the fan-out client
// (cmd/fanout), runs every scenario against every server in one
// interleaved run (in each repetition, each scenario against every server
// in turn, the order of the servers changing from repetition to
// repetition), each server in its own process restarted per scenario,
// checks nows against the targets with per-repetition paired ratios, their
// medians and 95 % intervals, times the recovery of 1,000 clients after a
// restart of a nows server with history in Redis (recovery.go), and writes
// docs/benchmarks.md, its Chinese twin docs/zh/benchmarks.md,
// docs/benchmarks-ratios.svg and docs/benchmarks-fanout.svg.
//
//	cd examples/benchmark && go run ./cmd/benchrun -out ../../docs
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nowebsocket/nows/examples/benchmark/internal/fanres"
	"github.com/nowebsocket/nows/examples/benchmark/internal/procstat"
)

// The servers, in the order they run. Their names are the report's. fanPkg
// serves the fan-out scenarios when pkg does not. nows-metrics is nows with
// its metrics on (the admin listener, on a port of its own): it runs the
// echo scenarios only, for the cost of counting.
var allServers = []benchServer{
	{name: "nows", pkg: "github.com/nowebsocket/nows/examples/echo", fanPkg: "./servers/nows"},
	{name: "nows-metrics", pkg: "github.com/nowebsocket/nows/examples/echo", adminAddr: "127.0.0.1:0", echoOnly: true},
	{name: "coder", pkg: "./servers/coder"},
	{name: "gorilla", pkg: "./servers/gorilla"},
	{name: "melody", pkg: "./servers/melody"},
	{name: "gws", pkg: "./servers/gws"},
}

// benchServer is one server of the benchmark.
type benchServer struct {
	name, pkg, fanPkg string
	adminAddr         string // nows's NOWS_ADMIN_ADDR: "" for metrics off
	echoOnly          bool   // it runs the echo scenarios only
}

const (
	benchPkg  = "github.com/nowebsocket/nows/cli/internal/bench/standalone"
	fanoutPkg = "./cmd/fanout"
)

// scenario is one workload.
type scenario struct {
	id      string // short id, for -only
	title   string
	titleZH string // the title on docs/zh/benchmarks.md
	kind    string // "echo", "idle", "handshakes", "fanout", "recovery"
	args    []string
}

// params are the sizes of the scenarios, from the flags.
type params struct {
	dur         time.Duration // each echo run
	idle        int           // idle connections
	handshakes  int
	fanDur      time.Duration // sending time of each fan-out run
	fanLoad     int           // deliveries a second each fan-out run asks for
	fanMembers  []int         // room sizes
	recClients  int           // clients of the recovery scenario
	recMessages int           // messages they miss
}

// fanoutSizes are the message sizes of the fan-out scenarios.
var fanoutSizes = []struct {
	label string
	size  int
}{{"64", 64}, {"4k", 4096}}

func scenarios(p params) []scenario {
	dur := p.dur.String()
	idle, handshakes := p.idle, p.handshakes
	echo := func(id string, conns, size int, text bool) scenario {
		title := fmt.Sprintf("echo, %s × %s", plural(conns, "connection"), fmtSize(size))
		titleZH := fmt.Sprintf("回显，%d 个连接 × %s", conns, fmtSize(size))
		args := []string{"--conns", fmt.Sprint(conns), "--size", fmt.Sprint(size)}
		if text {
			title, titleZH = title+" text", titleZH+" 文本"
		} else {
			args = append(args, "--binary")
		}
		return scenario{id: id, title: title, titleZH: titleZH, kind: "echo", args: append(args, "--duration", dur)}
	}
	scens := []scenario{
		echo("1x64", 1, 64, false),
		echo("1x16k", 1, 16384, false),
		echo("100x64", 100, 64, false),
		echo("100x16k", 100, 16384, false),
		echo("100x64text", 100, 64, true),
		{id: "idle", title: fmt.Sprintf("%d idle connections", idle), titleZH: fmt.Sprintf("%d 个空闲连接", idle),
			kind: "idle", args: []string{"--idle", fmt.Sprint(idle), "--hold", "2s"}},
		{id: "handshakes", title: fmt.Sprintf("%d handshakes, 32 at a time", handshakes), titleZH: fmt.Sprintf("%d 次握手，每次并发 32 个", handshakes),
			kind: "handshakes", args: []string{"--handshakes", fmt.Sprint(handshakes), "--conns", "32"}},
	}
	for _, m := range p.fanMembers {
		for _, sz := range fanoutSizes {
			rate := float64(p.fanLoad) / float64(m)
			rateS := strconv.FormatFloat(rate, 'g', 4, 64)
			scens = append(scens, scenario{
				id:      fmt.Sprintf("fan%sx%s", memberLabel(m), sz.label),
				title:   fmt.Sprintf("fan-out, %s members × %s, %s broadcasts/s", fmtNum(float64(m), 0), fmtSize(sz.size), rateS),
				titleZH: fmt.Sprintf("扇出，%s 个成员 × %s，每秒 %s 次广播", fmtNum(float64(m), 0), fmtSize(sz.size), rateS),
				kind:    "fanout",
				args: []string{"-members", fmt.Sprint(m), "-size", fmt.Sprint(sz.size),
					"-rate", strconv.FormatFloat(rate, 'g', -1, 64), "-duration", p.fanDur.String()},
			})
		}
	}
	return append(scens, recoveryScenario(p))
}

// memberLabel is the room size in a scenario id: 1k for 1000, 500 for 500.
func memberLabel(m int) string {
	if m%1000 == 0 {
		return fmt.Sprintf("%dk", m/1000)
	}
	return fmt.Sprint(m)
}

func fmtSize(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// selected reports whether -only (ids, or the groups "echo" and "fanout")
// picks sc.
func selected(only string, sc scenario) bool {
	if only == "" {
		return true
	}
	ids := strings.Split(only, ",")
	return slices.Contains(ids, sc.id) || slices.Contains(ids, sc.kind)
}

// parseMembers parses -fanout-members.
func parseMembers(s string) ([]int, error) {
	var ms []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-fanout-members: bad room size %q", f)
		}
		ms = append(ms, n)
	}
	return ms, nil
}

// sample is what one run of one scenario against one server measured.
type sample struct {
	MsgsPerSec   float64 `json:"msgs_per_sec,omitempty"`
	P99us        float64 `json:"p99_us,omitempty"`
	CPUusPerMsg  float64 `json:"cpu_us_per_msg,omitempty"`
	RSSKiBPer    float64 `json:"rss_kib_per_conn,omitempty"`
	HandshakesPS float64 `json:"handshakes_per_sec,omitempty"`
	CPUusPerHS   float64 `json:"cpu_us_per_handshake,omitempty"`
	DeliveriesPS float64 `json:"deliveries_per_sec,omitempty"` // fan-out
	P50us        float64 `json:"p50_us,omitempty"`             // fan-out
	CPUusPerDlv  float64 `json:"cpu_us_per_delivery,omitempty"`
	ClientCPUPer float64 `json:"client_cpu_us_per_delivery,omitempty"`
	Lost         int64   `json:"lost,omitempty"`
	Dup          int64   `json:"dup,omitempty"`
	Errors       int64   `json:"errors"`
	Note         string  `json:"note,omitempty"`

	// The recovery scenario's: times in ms (see recres.Result), messages
	// recovered, clients, clients done, store reads (Redis script calls
	// from the restart to the end), joins not recovered, and the CPU time
	// of the server (from its restart), Redis and the load client over
	// the recovery. Lost and Dup are its too (Dup with the messages out
	// of order).
	RecTotalMs      float64 `json:"rec_total_ms,omitempty"`
	RecP50Ms        float64 `json:"rec_p50_ms,omitempty"`
	RecP99Ms        float64 `json:"rec_p99_ms,omitempty"`
	RecAttemptP50Ms float64 `json:"rec_attempt_p50_ms,omitempty"`
	RecAttemptP99Ms float64 `json:"rec_attempt_p99_ms,omitempty"`
	RecMessages     int64   `json:"rec_messages,omitempty"`
	RecClients      int64   `json:"rec_clients,omitempty"`
	RecDone         int64   `json:"rec_done,omitempty"`
	StoreReads      int64   `json:"store_reads,omitempty"`
	NotRecovered    int64   `json:"not_recovered,omitempty"`
	RecServerCPUms  float64 `json:"rec_server_cpu_ms,omitempty"`
	RecRedisCPUms   float64 `json:"rec_redis_cpu_ms,omitempty"`
	RecLoadCPUms    float64 `json:"rec_load_cpu_ms,omitempty"`
}

// benchJSON is the part of `nows bench --json` read here.
type benchJSON struct {
	Messages         int64   `json:"messages"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	P99us            float64 `json:"p99_us"`
	Opened           int     `json:"opened"`
	Alive            int     `json:"alive"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	Errors           int64   `json:"errors"`
	FirstError       string  `json:"first_error"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "../../docs", "directory for benchmarks.md, zh/benchmarks.md and the charts")
	reps := flag.Int("reps", 10, "repetitions, the servers interleaved in each (the report gives medians and 95 % intervals)")
	dur := flag.Duration("duration", 1500*time.Millisecond, "duration of each echo run")
	idle := flag.Int("idle", 5000, "idle connections held (the memory target is defined at 5,000)")
	handshakes := flag.Int("handshakes", 10000, "handshakes (10,000 take about a second: the server's CPU time, counted in 10 ms ticks, is then within 1 %)")
	fanDur := flag.Duration("fanout-duration", 2*time.Second, "sending time of each fan-out run")
	fanLoad := flag.Int("fanout-load", 50000, "deliveries per second each fan-out run asks for (broadcasts/s = this ÷ members)")
	fanMembers := flag.String("fanout-members", "1000,5000", "comma-separated room sizes of the fan-out scenarios")
	recClients := flag.Int("recovery-clients", 1000, "clients of the recovery scenario")
	recMessages := flag.Int("recovery-messages", 100, "messages the recovery scenario's clients miss while the server is down")
	quick := flag.Bool("quick", false, "a quick look: -reps 1 -duration 1s -idle 2000 -handshakes 1000 -fanout-duration 1s -fanout-members 1000 unless given")
	only := flag.String("only", "", "comma-separated scenario ids, or echo or fanout, to run (default all: 1x64,1x16k,100x64,100x16k,100x64text,idle,handshakes,fan1kx64,fan1kx4k,fan5kx64,fan5kx4k,recovery)")
	serverList := flag.String("servers", "", "comma-separated servers to run (default all: nows,coder,gorilla,melody,gws)")
	bin := flag.String("bin", "", "directory for the built binaries (default a temporary one)")
	rawOut := flag.String("raw", "", "also write every sample as JSON to this file")
	from := flag.String("from", "", "do not run: render the report from a file written with -raw")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"reps": "1", "duration": "1s", "idle": "2000", "handshakes": "1000", "fanout-duration": "1s", "fanout-members": "1000"} {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
	}
	members, err := parseMembers(*fanMembers)
	if err != nil {
		return err
	}
	p := params{dur: *dur, idle: *idle, handshakes: *handshakes, fanDur: *fanDur, fanLoad: *fanLoad, fanMembers: members,
		recClients: *recClients, recMessages: *recMessages}
	if *from != "" {
		return render(*from, *out, *reps, p, *only, *serverList)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()

	dir := *bin
	if dir == "" {
		tmp, err := os.MkdirTemp("", "benchrun")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	servers := allServers[:0:0]
	for _, s := range allServers {
		if *serverList == "" || slices.Contains(strings.Split(*serverList, ","), s.name) {
			servers = append(servers, s)
		}
	}
	var scens []scenario
	fanout, recovery := false, false
	for _, sc := range scenarios(p) {
		if selected(*only, sc) {
			scens = append(scens, sc)
			fanout = fanout || sc.kind == "fanout"
			recovery = recovery || sc.kind == "recovery"
		}
	}
	if recovery {
		if err := needRedis(); err != nil {
			return err
		}
	}

	fmt.Fprintln(os.Stderr, "benchrun: building into", dir)
	bins := map[string]string{}    // server -> binary
	fanBins := map[string]string{} // server -> binary for the fan-out scenarios
	for _, s := range servers {
		bins[s.name] = filepath.Join(dir, s.name)
		if err := goBuild(ctx, bins[s.name], s.pkg); err != nil {
			return err
		}
		fanBins[s.name] = bins[s.name]
		if s.fanPkg != "" && fanout {
			fanBins[s.name] = filepath.Join(dir, s.name+"-fanout")
			if err := goBuild(ctx, fanBins[s.name], s.fanPkg); err != nil {
				return err
			}
		}
	}
	benchBin := filepath.Join(dir, "nows-bench")
	if err := goBuild(ctx, benchBin, benchPkg); err != nil {
		return err
	}
	fanoutBin := filepath.Join(dir, "fanout")
	if fanout {
		if err := goBuild(ctx, fanoutBin, fanoutPkg); err != nil {
			return err
		}
	}
	historyBin, recoveryBin := filepath.Join(dir, "history"), filepath.Join(dir, "recovery")
	if recovery {
		for bin, pkg := range map[string]string{historyBin: historyPkg, recoveryBin: recoveryPkg} {
			if err := goBuild(ctx, bin, pkg); err != nil {
				return err
			}
		}
	}
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()

	tck := clockTicks()
	loadBefore := loadAvg()
	samples := map[string]map[string][]sample{} // scenario id -> server -> samples
	for rep := 1; rep <= *reps; rep++ {
		order := runOrder(len(servers), rep-1)
		for _, sc := range scens {
			for _, i := range order {
				s := servers[i]
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if s.echoOnly && sc.kind != "echo" || sc.kind == "recovery" && s.name != "nows" {
					continue // the recovery scenario is nows's alone: the peers have no history
				}
				var smp sample
				var err error
				start := time.Now()
				switch sc.kind {
				case "fanout":
					smp, err = runFanout(ctx, sc, s, fanBins[s.name], fanoutBin)
				case "recovery":
					smp, err = runRecovery(ctx, sc, p.recMessages, historyBin, recoveryBin, tck)
				default:
					smp, err = runOne(ctx, sc, s, bins[s.name], benchBin, tck, *idle)
				}
				if err != nil {
					smp.Note = err.Error()
					smp.Errors++
				}
				fmt.Fprintf(os.Stderr, "benchrun: rep %d/%d  %-34s %-8s %s  (%.1fs)\n", rep, *reps, sc.title, s.name, smp.String(sc.kind), time.Since(start).Seconds())
				if samples[sc.id] == nil {
					samples[sc.id] = map[string][]sample{}
				}
				samples[sc.id][s.name] = append(samples[sc.id][s.name], smp)
			}
		}
	}

	var mb metricsBench
	if slices.ContainsFunc(servers, func(s benchServer) bool { return s.name == "nows-metrics" }) && slices.ContainsFunc(scens, func(sc scenario) bool { return sc.kind == "echo" }) {
		var err error
		if mb, err = runMetricsBench(ctx, filepath.Join("..", ".."), dir, *reps); err != nil {
			return err
		}
	}
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.name
	}
	rep := report{
		MetricsBench: mb,
		Machine:      describeMachine(strings.TrimSpace(string(goVersion))),
		Load:         [2]string{loadBefore, loadAvg()},
		Date:         time.Now().UTC().Format("2006-01-02"),
		Reps:         *reps,
		Duration:     *dur,
		Idle:         *idle,
		Handshake:    *handshakes,
		FanDur:       *fanDur,
		FanLoad:      *fanLoad,
		RecClients:   *recClients,
		RecMessages:  *recMessages,
		Servers:      names,
		Scenarios:    scens,
		Samples:      samples,
		Took:         time.Since(began),
		ClkTck:       tck,
	}
	if *rawOut != "" {
		b, _ := json.MarshalIndent(rawFile{report: rep, TookS: rep.Took.Seconds()}, "", "  ")
		_ = os.MkdirAll(filepath.Dir(*rawOut), 0o755)
		if err := os.WriteFile(*rawOut, b, 0o644); err != nil {
			return err
		}
	}
	return write(rep, *out)
}

// runOrder returns the order, as indexes, in which the n servers run in
// repetition rep (from 0): the first is rep mod n, so each server leads in
// turn, and the others follow in an order shuffled with rep as the seed, so
// that no server always runs right after the same one. The same rep gives
// the same order.
func runOrder(n, rep int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = (rep + i) % n
	}
	if n > 2 {
		rest := order[1:]
		rand.New(rand.NewPCG(uint64(rep), 0x6e6f7773)).Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	}
	return order
}

// rawFile is what -raw writes and -from reads.
type rawFile struct {
	report
	TookS float64
}

// render writes the report from a -raw file; the flags choose the servers
// and scenarios shown.
func render(from, out string, reps int, p params, only, serverList string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var raw rawFile
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	rep := raw.report
	rep.Took = time.Duration(raw.TookS * float64(time.Second))
	if rep.Samples == nil {
		// A file with only the samples, as the first -raw files were.
		if err := json.Unmarshal(b, &rep.Samples); err != nil || len(rep.Samples) == 0 {
			return fmt.Errorf("%s: no samples", from)
		}
	}
	if rep.FanLoad != 0 {
		p.fanDur, p.fanLoad = rep.FanDur, rep.FanLoad
	}
	if rep.RecClients != 0 {
		p.recClients, p.recMessages = rep.RecClients, rep.RecMessages
	}
	rep.Scenarios = nil
	for _, sc := range scenarios(p) {
		if rep.Samples[sc.id] != nil && selected(only, sc) {
			rep.Scenarios = append(rep.Scenarios, sc)
		}
	}
	if len(rep.Servers) == 0 {
		for _, s := range allServers {
			if serverList == "" || slices.Contains(strings.Split(serverList, ","), s.name) {
				rep.Servers = append(rep.Servers, s.name)
			}
		}
	}
	if rep.Reps == 0 {
		rep.Reps, rep.Duration, rep.Idle, rep.Handshake = reps, p.dur, p.idle, p.handshakes
	}
	if rep.ClkTck == 0 {
		rep.ClkTck = clockTicks()
	}
	if rep.Machine.CPUs == 0 {
		goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()
		rep.Machine = describeMachine(strings.TrimSpace(string(goVersion)))
	}
	return write(rep, out)
}

// write writes benchmarks.md, its Chinese twin zh/benchmarks.md and the
// charts into out, and prints the tables.
func write(rep report, out string) error {
	if err := os.MkdirAll(filepath.Join(out, "zh"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "benchmarks.md"), []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "zh", "benchmarks.md"), []byte(rep.inZH().markdown()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "benchmarks-ratios.svg"), []byte(rep.svg()), 0o644); err != nil {
		return err
	}
	if rep.hasKind("fanout") {
		if err := os.WriteFile(filepath.Join(out, "benchmarks-fanout.svg"), []byte(rep.fanoutSVG()), 0o644); err != nil {
			return err
		}
	}
	fmt.Print(rep.tables())
	fmt.Fprintf(os.Stderr, "benchrun: wrote %s, zh/benchmarks.md and the charts\n", filepath.Join(out, "benchmarks.md"))
	return nil
}

func goBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// runOne starts the server, runs one scenario against it and stops it.
func runOne(ctx context.Context, sc scenario, s benchServer, bin, benchBin string, tck int64, idle int) (sample, error) {
	srv, err := startServer(ctx, s, bin)
	if err != nil {
		return sample{}, err
	}
	defer srv.stop()
	time.Sleep(200 * time.Millisecond) // let the runtime settle after start-up

	args := append(append([]string{}, sc.args...), "--json", srv.url())
	switch sc.kind {
	case "idle":
		return runIdle(ctx, srv, benchBin, args, idle)
	default:
		cpu0, err := procstat.CPUTicks(srv.pid)
		if err != nil {
			return sample{}, err
		}
		res, err := runBench(ctx, benchBin, args)
		if err != nil {
			return sample{}, err
		}
		cpu1, err := procstat.CPUTicks(srv.pid)
		if err != nil {
			return sample{}, err
		}
		cpuUs := float64(cpu1-cpu0) * 1e6 / float64(tck)
		smp := sample{Errors: res.Errors}
		if sc.kind == "handshakes" {
			smp.HandshakesPS = res.HandshakesPerSec
			if res.Opened > 0 {
				smp.CPUusPerHS = cpuUs / float64(res.Opened)
			}
		} else {
			smp.MsgsPerSec, smp.P99us = res.MsgsPerSec, res.P99us
			if res.Messages > 0 {
				smp.CPUusPerMsg = cpuUs / float64(res.Messages)
			}
		}
		if res.FirstError != "" {
			smp.Note = res.FirstError
		}
		return smp, nil
	}
}

// runIdle measures the server's RSS before, and while the load generator
// holds the idle connections: once the server has a descriptor for every
// connection, it waits for the upgrades to finish and memory to settle,
// then reads VmRSS.
func runIdle(ctx context.Context, srv *server, benchBin string, args []string, idle int) (sample, error) {
	rss0, err := rssKiB(srv.pid)
	if err != nil {
		return sample{}, err
	}
	fd0 := fdCount(srv.pid)
	cmd, stdout, err := startBench(ctx, benchBin, args)
	if err != nil {
		return sample{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var rss1 int64
	deadline := time.Now().Add(60 * time.Second)
	waiting := true
	for waiting {
		select {
		case err := <-exited:
			exited <- err
			waiting = false
		case <-time.After(50 * time.Millisecond):
			if fdCount(srv.pid)-fd0 >= idle || time.Now().After(deadline) {
				waiting = false
			}
		}
	}
	time.Sleep(1200 * time.Millisecond)
	rss1, _ = rssKiB(srv.pid)
	if err := <-exited; err != nil {
		return sample{}, fmt.Errorf("nows bench: %w", err)
	}
	var res benchJSON
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return sample{}, fmt.Errorf("nows bench output: %w: %s", err, stdout.String())
	}
	smp := sample{Errors: res.Errors, Note: res.FirstError}
	if res.Opened > 0 {
		smp.RSSKiBPer = float64(rss1-rss0) / float64(res.Opened)
	}
	if res.Alive < res.Opened {
		smp.Note = strings.TrimSpace(smp.Note + fmt.Sprintf(" %d of %d connections dropped during the hold", res.Opened-res.Alive, res.Opened))
	}
	return smp, nil
}

func startBench(ctx context.Context, benchBin string, args []string) (*exec.Cmd, *bytes.Buffer, error) {
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, benchBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return cmd, &stdout, nil
}

func runBench(ctx context.Context, benchBin string, args []string) (benchJSON, error) {
	cmd, stdout, err := startBench(ctx, benchBin, args)
	if err != nil {
		return benchJSON{}, err
	}
	var res benchJSON
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("nows bench: %w", err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("nows bench output: %w: %s", err, stdout.String())
	}
	return res, nil
}

// runFanout starts the server, runs the fan-out client against it and
// stops it. The client reads the server's CPU time itself, around the
// sending only (the handshakes of the room stay out of it).
func runFanout(ctx context.Context, sc scenario, s benchServer, bin, fanoutBin string) (sample, error) {
	srv, err := startServer(ctx, s, bin)
	if err != nil {
		return sample{}, err
	}
	defer srv.stop()
	time.Sleep(200 * time.Millisecond) // let the runtime settle after start-up

	args := append(append([]string{}, sc.args...), "-json", "-pid", fmt.Sprint(srv.pid), srv.baseURL())
	cmd, stdout, err := startBench(ctx, fanoutBin, args)
	if err != nil {
		return sample{}, err
	}
	waitErr := cmd.Wait() // non-zero on a loss: the JSON still comes
	var res fanres.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		if waitErr != nil {
			return sample{}, fmt.Errorf("fanout: %w", waitErr)
		}
		return sample{}, fmt.Errorf("fanout output: %w: %s", err, stdout.String())
	}
	smp := sample{
		DeliveriesPS: res.DeliveriesPerSec, P50us: res.P50us, P99us: res.P99us,
		Lost: res.Lost, Dup: res.Dup, Errors: res.Errors, Note: res.FirstError,
	}
	if res.Deliveries > 0 {
		smp.CPUusPerDlv = res.ServerCPUus / float64(res.Deliveries)
		smp.ClientCPUPer = res.ClientCPUus / float64(res.Deliveries)
	}
	if waitErr != nil && res.Errors == 0 && res.Lost == 0 && res.Dup == 0 {
		smp.Errors++
		smp.Note = strings.TrimSpace(smp.Note + " fanout: " + waitErr.Error())
	}
	return smp, nil
}

func (s sample) String(kind string) string {
	var b strings.Builder
	switch kind {
	case "idle":
		fmt.Fprintf(&b, "%.1f KiB/conn", s.RSSKiBPer)
	case "handshakes":
		fmt.Fprintf(&b, "%.0f handshakes/s  %.0f µs CPU/handshake", s.HandshakesPS, s.CPUusPerHS)
	case "recovery":
		fmt.Fprintf(&b, "all recovered in %.0f ms  per client p50 %.0f ms  p99 %.0f ms (from its attempt p50 %.0f ms  p99 %.0f ms)  %d messages  %d store reads  CPU ms server %.0f redis %.0f load %.0f  lost %d  dup %d",
			s.RecTotalMs, s.RecP50Ms, s.RecP99Ms, s.RecAttemptP50Ms, s.RecAttemptP99Ms, s.RecMessages, s.StoreReads,
			s.RecServerCPUms, s.RecRedisCPUms, s.RecLoadCPUms, s.Lost, s.Dup)
	case "fanout":
		fmt.Fprintf(&b, "%.0f deliveries/s  p50 %.0f µs  p99 %.0f µs  %.2f µs CPU/delivery  lost %d  dup %d", s.DeliveriesPS, s.P50us, s.P99us, s.CPUusPerDlv, s.Lost, s.Dup)
	default:
		fmt.Fprintf(&b, "%.0f msgs/s  p99 %.0f µs  %.2f µs CPU/msg", s.MsgsPerSec, s.P99us, s.CPUusPerMsg)
	}
	if s.Errors > 0 {
		fmt.Fprintf(&b, "  errors %d (%s)", s.Errors, s.Note)
	}
	return b.String()
}
