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
//	go run ./cmd/cluster -broker nats,redis -nodes 4 -members 16000 -rate 5 -duration 60s
package main

import (
	"flag"
	"fmt"
	"os"
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
	flag.Parse()
	if cfg.nodes < 1 || cfg.members < cfg.nodes || cfg.rate <= 0 {
		fmt.Fprintln(os.Stderr, "cluster: want -nodes ≥ 1, -members ≥ -nodes and -rate > 0")
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
