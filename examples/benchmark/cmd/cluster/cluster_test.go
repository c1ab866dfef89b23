//go:build linux

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCluster runs a small cluster over each broker: two node processes,
// members spread over both, the publisher on the first. Every broadcast
// must reach every member, on both nodes, once.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	cfg := config{nodes: 2, members: 100, size: 64, rate: 20, duration: time.Second, loss: 5 * time.Second, bin: t.TempDir()}
	if err := build(&cfg); err != nil {
		t.Fatal(err)
	}
	for _, broker := range []string{"nats", "redis"} {
		t.Run(broker, func(t *testing.T) {
			if _, err := exec.LookPath("redis-server"); err != nil && broker == "redis" && os.Getenv("CI") == "" {
				t.Skip("redis-server not installed (apt-get install redis-server); CI installs it")
			}
			cfg := cfg
			cfg.broker = broker
			r := runCluster(cfg)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.res.Broadcasts < 10 || r.res.Deliveries != r.res.Broadcasts*int64(cfg.members) || r.res.Lost != 0 || r.res.Dup != 0 {
				t.Fatalf("%+v: want every broadcast delivered to all %d members once", r.res, cfg.members)
			}
			if len(r.res.Nodes) != 2 || r.res.Nodes[0].Members != 50 || r.res.Nodes[1].Members != 50 {
				t.Fatalf("members per node %+v, want 50 and 50", r.res.Nodes)
			}
			if rep := report([]runResult{r}); !strings.Contains(rep, "| "+broker+" | 2 | 100 |") || !strings.Contains(rep, "| ok |") {
				t.Errorf("report:\n%s", rep)
			}
		})
	}
}
