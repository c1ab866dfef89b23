// Command benchrun builds the five echo servers of the benchmark (nows from
// examples/echo, raw coder/websocket, gorilla, melody, gws) and the nows
// load generator, runs every scenario against every server in one
// interleaved run (A B C D E, A B C D E, ..., medians of the repetitions),
// each server in its own process restarted per scenario, and writes
// docs/benchmarks.md and docs/benchmarks-ratios.svg.
//
//	cd examples/benchmark && go run ./cmd/benchrun -out ../../docs
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The servers, in the order they run. Their names are the report's.
var allServers = []struct{ name, pkg string }{
	{"nows", "github.com/nowebsocket/nows/examples/echo"},
	{"coder", "./servers/coder"},
	{"gorilla", "./servers/gorilla"},
	{"melody", "./servers/melody"},
	{"gws", "./servers/gws"},
}

const benchPkg = "github.com/nowebsocket/nows/cli/internal/bench/standalone"

// scenario is one workload.
type scenario struct {
	id    string // short id, for -only
	title string
	kind  string // "echo", "idle", "handshakes"
	args  []string
}

func scenarios(d time.Duration, idle, handshakes int) []scenario {
	dur := d.String()
	return []scenario{
		{"1x64", "echo, 1 connection × 64 B", "echo", []string{"--conns", "1", "--size", "64", "--binary", "--duration", dur}},
		{"1x16k", "echo, 1 connection × 16 KiB", "echo", []string{"--conns", "1", "--size", "16384", "--binary", "--duration", dur}},
		{"100x64", "echo, 100 connections × 64 B", "echo", []string{"--conns", "100", "--size", "64", "--binary", "--duration", dur}},
		{"100x16k", "echo, 100 connections × 16 KiB", "echo", []string{"--conns", "100", "--size", "16384", "--binary", "--duration", dur}},
		{"100x64text", "echo, 100 connections × 64 B text", "echo", []string{"--conns", "100", "--size", "64", "--duration", dur}},
		{"idle", fmt.Sprintf("%d idle connections", idle), "idle", []string{"--idle", fmt.Sprint(idle), "--hold", "3s"}},
		{"handshakes", fmt.Sprintf("%d handshakes, 32 at a time", handshakes), "handshakes", []string{"--handshakes", fmt.Sprint(handshakes), "--conns", "32"}},
	}
}

// sample is what one run of one scenario against one server measured.
type sample struct {
	MsgsPerSec   float64 `json:"msgs_per_sec,omitempty"`
	P99us        float64 `json:"p99_us,omitempty"`
	CPUusPerMsg  float64 `json:"cpu_us_per_msg,omitempty"`
	RSSKiBPer    float64 `json:"rss_kib_per_conn,omitempty"`
	HandshakesPS float64 `json:"handshakes_per_sec,omitempty"`
	CPUusPerHS   float64 `json:"cpu_us_per_handshake,omitempty"`
	Errors       int64   `json:"errors"`
	Note         string  `json:"note,omitempty"`
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
	out := flag.String("out", "../../docs", "directory for benchmarks.md and benchmarks-ratios.svg")
	reps := flag.Int("reps", 3, "repetitions (the report gives medians)")
	dur := flag.Duration("duration", 3*time.Second, "duration of each echo run")
	idle := flag.Int("idle", 10000, "idle connections")
	handshakes := flag.Int("handshakes", 3000, "handshakes")
	only := flag.String("only", "", "comma-separated scenario ids to run (default all: 1x64,1x16k,100x64,100x16k,100x64text,idle,handshakes)")
	serverList := flag.String("servers", "", "comma-separated servers to run (default all: nows,coder,gorilla,melody,gws)")
	bin := flag.String("bin", "", "directory for the built binaries (default a temporary one)")
	rawOut := flag.String("raw", "", "also write every sample as JSON to this file")
	from := flag.String("from", "", "do not run: render the report from a file written with -raw")
	flag.Parse()
	if *from != "" {
		return render(*from, *out, *reps, *dur, *idle, *handshakes, *only, *serverList)
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
	for _, sc := range scenarios(*dur, *idle, *handshakes) {
		if *only == "" || slices.Contains(strings.Split(*only, ","), sc.id) {
			scens = append(scens, sc)
		}
	}

	fmt.Fprintln(os.Stderr, "benchrun: building into", dir)
	bins := map[string]string{}
	for _, s := range servers {
		bins[s.name] = filepath.Join(dir, s.name)
		if err := goBuild(ctx, bins[s.name], s.pkg); err != nil {
			return err
		}
	}
	benchBin := filepath.Join(dir, "nows-bench")
	if err := goBuild(ctx, benchBin, benchPkg); err != nil {
		return err
	}
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()

	tck := clockTicks()
	loadBefore := loadAvg()
	samples := map[string]map[string][]sample{} // scenario id -> server -> samples
	for rep := 1; rep <= *reps; rep++ {
		for _, sc := range scens {
			for _, s := range servers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				smp, err := runOne(ctx, sc, s.name, bins[s.name], benchBin, tck, *idle)
				if err != nil {
					smp.Note = err.Error()
					smp.Errors++
				}
				fmt.Fprintf(os.Stderr, "benchrun: rep %d/%d  %-34s %-8s %s\n", rep, *reps, sc.title, s.name, smp.String(sc.kind))
				if samples[sc.id] == nil {
					samples[sc.id] = map[string][]sample{}
				}
				samples[sc.id][s.name] = append(samples[sc.id][s.name], smp)
			}
		}
	}

	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.name
	}
	rep := report{
		Machine:   describeMachine(strings.TrimSpace(string(goVersion))),
		Load:      [2]string{loadBefore, loadAvg()},
		Date:      time.Now().UTC().Format("2006-01-02"),
		Reps:      *reps,
		Duration:  *dur,
		Idle:      *idle,
		Handshake: *handshakes,
		Servers:   names,
		Scenarios: scens,
		Samples:   samples,
		Took:      time.Since(began),
		ClkTck:    tck,
	}
	if *rawOut != "" {
		b, _ := json.MarshalIndent(rawFile{report: rep, TookS: rep.Took.Seconds()}, "", "  ")
		if err := os.WriteFile(*rawOut, b, 0o644); err != nil {
			return err
		}
	}
	return write(rep, *out)
}

// rawFile is what -raw writes and -from reads.
type rawFile struct {
	report
	TookS float64
}

// render writes the report from a -raw file; the flags choose the servers
// and scenarios shown.
func render(from, out string, reps int, dur time.Duration, idle, handshakes int, only, serverList string) error {
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
	rep.Scenarios = nil
	for _, sc := range scenarios(dur, idle, handshakes) {
		if rep.Samples[sc.id] != nil && (only == "" || slices.Contains(strings.Split(only, ","), sc.id)) {
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
		rep.Reps, rep.Duration, rep.Idle, rep.Handshake = reps, dur, idle, handshakes
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

// write writes benchmarks.md and benchmarks-ratios.svg into out and prints
// the tables.
func write(rep report, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	md := rep.markdown()
	if err := os.WriteFile(filepath.Join(out, "benchmarks.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "benchmarks-ratios.svg"), []byte(rep.svg()), 0o644); err != nil {
		return err
	}
	fmt.Print(rep.tables())
	fmt.Fprintf(os.Stderr, "benchrun: wrote %s and benchmarks-ratios.svg\n", filepath.Join(out, "benchmarks.md"))
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
func runOne(ctx context.Context, sc scenario, name, bin, benchBin string, tck int64, idle int) (sample, error) {
	srv, err := startServer(ctx, name, bin)
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
		cpu0, err := cpuTicks(srv.pid)
		if err != nil {
			return sample{}, err
		}
		res, err := runBench(ctx, benchBin, args)
		if err != nil {
			return sample{}, err
		}
		cpu1, err := cpuTicks(srv.pid)
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

func (s sample) String(kind string) string {
	var b strings.Builder
	switch kind {
	case "idle":
		fmt.Fprintf(&b, "%.1f KiB/conn", s.RSSKiBPer)
	case "handshakes":
		fmt.Fprintf(&b, "%.0f handshakes/s  %.0f µs CPU/handshake", s.HandshakesPS, s.CPUusPerHS)
	default:
		fmt.Fprintf(&b, "%.0f msgs/s  p99 %.0f µs  %.2f µs CPU/msg", s.MsgsPerSec, s.P99us, s.CPUusPerMsg)
	}
	if s.Errors > 0 {
		fmt.Fprintf(&b, "  errors %d (%s)", s.Errors, s.Note)
	}
	return b.String()
}
