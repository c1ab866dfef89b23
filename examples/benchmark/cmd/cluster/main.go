//go:build linux

// Command cluster measures nows as a cluster on one machine: K node
// processes (servers/nows with --broker), a broker (NATS in this process,
// or a redis-server it starts), and one load client (cmd/fanout) whose
// members are spread over the nodes in one room while its publisher sends
// to the first node: every broadcast reaches the other nodes through the
// broker. It reports deliveries/s, p50/p99 latency from send to receipt,
// lost and duplicated deliveries, and each node's CPU time per delivery.
//
// Each process stays under the open-file limit of these machines (20,000):
// the client holds the members, each node its share.
//
// With -kill, the last node is killed with SIGKILL -kill-after the sending
// starts, once every node lists every member, and the others are polled
// (GET /presence of servers/nows) until their presence no longer lists its
// members: the report gives that convergence time, the deliveries its
// members lost (expected), and the survivors' lost and duplicated
// deliveries, which must stay 0.
//
// With -sweep, it runs the cluster over one broker for each node count of
// -sweep-nodes and each room size of -sweep-members (the members of the
// room in all, spread over the nodes), prints a Markdown table of the
// runs, and writes a chart of the nodes' CPU time per delivery and the p99
// latency against the room size, one line per node count, to
// -out/scaling-cost.svg (make cluster-sweep; docs/scaling.md shows it).
//
//	go run ./cmd/cluster -broker nats,redis -nodes 4 -members 16000 -rate 5 -duration 60s
//	go run ./cmd/cluster -broker nats -nodes 4 -members 16000 -duration 30s -kill
//	go run ./cmd/cluster -broker nats -sweep -rate 5 -duration 20s
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// config is one cluster run.
type config struct {
	broker               string // "nats" or "redis"
	nodes, members, size int
	rate                 float64
	duration, loss       time.Duration
	bin                  string // directory with the nows and fanout binaries

	presence  time.Duration // the nodes' presence interval, or 0 for their default
	kill      bool          // kill the last node during the run
	killAfter time.Duration // when, from the start of the sending
}

func main() {
	var cfg config
	brokers := flag.String("broker", "nats,redis", "comma-separated brokers to run the cluster on: nats, redis")
	flag.IntVar(&cfg.nodes, "nodes", 4, "node processes")
	flag.IntVar(&cfg.members, "members", 16000, "members of the room, spread over the nodes (at most about 19,000: they are one client process)")
	flag.IntVar(&cfg.size, "size", 64, "message size in bytes (at least 16)")
	flag.Float64Var(&cfg.rate, "rate", 5, "broadcasts per second")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to send")
	flag.DurationVar(&cfg.loss, "loss-after", 5*time.Second, "a delivery later than this counts as lost")
	flag.StringVar(&cfg.bin, "bin", "", "directory for the built binaries (default a temporary one)")
	flag.DurationVar(&cfg.presence, "presence-interval", 0, "the nodes' presence interval (default the framework's, 5s)")
	flag.BoolVar(&cfg.kill, "kill", false, "kill the last node (SIGKILL) during the run and measure how long the others take to drop its members from their presence")
	flag.DurationVar(&cfg.killAfter, "kill-after", 0, "with -kill, when to kill, from the start of the sending (default a third of -duration)")
	sweep := flag.Bool("sweep", false, "run every node count of -sweep-nodes with every room size of -sweep-members, over the first broker of -broker, and write the chart -out/scaling-cost.svg")
	sweepNodes := flag.String("sweep-nodes", "1,2,4", "with -sweep, the node counts")
	sweepMembers := flag.String("sweep-members", "1000,4000,16000", "with -sweep, the room sizes (members in all, spread over the nodes)")
	out := flag.String("out", "../../docs", "with -sweep, the directory for scaling-cost.svg")
	flag.Parse()
	if *sweep {
		os.Exit(mainSweep(cfg, strings.Split(*brokers, ",")[0], *sweepNodes, *sweepMembers, *out))
	}
	if cfg.nodes < 1 || cfg.members < cfg.nodes || cfg.rate <= 0 {
		fmt.Fprintln(os.Stderr, "cluster: want -nodes ≥ 1, -members ≥ -nodes and -rate > 0")
		os.Exit(2)
	}
	if cfg.kill && cfg.killAfter == 0 {
		cfg.killAfter = cfg.duration / 3
	}
	if cfg.kill && (cfg.nodes < 2 || cfg.killAfter >= cfg.duration) {
		fmt.Fprintln(os.Stderr, "cluster: -kill wants -nodes ≥ 2 (the first has the publisher) and -kill-after < -duration")
		os.Exit(2)
	}
	if err := build(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
	var results []runResult
	failed := false
	for _, b := range strings.Split(*brokers, ",") {
		cfg.broker = strings.TrimSpace(b)
		r := runCluster(cfg)
		if r.err != nil {
			fmt.Fprintf(os.Stderr, "cluster: %s: %v\n", cfg.broker, r.err)
			failed = true
		}
		results = append(results, r)
	}
	fmt.Print(report(results))
	if failed {
		os.Exit(1)
	}
}

// mainSweep runs -sweep over broker and returns the exit code.
func mainSweep(cfg config, broker, nodeList, memberList, out string) int {
	nodes, err := parseInts(nodeList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster: -sweep-nodes:", err)
		return 2
	}
	members, err := parseInts(memberList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster: -sweep-members:", err)
		return 2
	}
	if cfg.rate <= 0 || slices.Max(nodes) > slices.Min(members) {
		fmt.Fprintln(os.Stderr, "cluster: -sweep wants -rate > 0 and every room at least as large as the largest node count")
		return 2
	}
	if err := build(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	cfg.broker = strings.TrimSpace(broker)
	runs := runSweep(cfg, nodes, members)
	fmt.Print(sweepReport(runs))
	path := filepath.Join(out, "scaling-cost.svg")
	if err := os.WriteFile(path, []byte(sweepSVG(runs, nodes, members)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "cluster: wrote", path)
	for _, r := range runs {
		if r.err != nil {
			return 1
		}
	}
	return 0
}
