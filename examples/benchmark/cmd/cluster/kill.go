//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// killResult is what a -kill run measured: the last node is killed with
// SIGKILL (no goodbye to the others) while the load client sends, and the
// other nodes are polled until their presence no longer lists its members.
type killResult struct {
	node    int           // the 1-based node killed
	nodeID  string        // its hub's node ID
	members int           // its members
	after   time.Duration // from the start of the sending to the kill
	// converged holds, for each surviving node, the time from the kill
	// until its presence no longer listed the killed node's members, or
	// -1 if not within the bound.
	converged []time.Duration
	err       error
}

// presenceInterval returns the nodes' presence interval: cfg.presence, or
// the framework's default.
func presenceInterval(cfg config) time.Duration {
	if cfg.presence > 0 {
		return cfg.presence
	}
	return 5 * time.Second
}

// presenceOf is the answer of a node's GET /presence (servers/nows).
type presenceOf struct {
	Node    string         `json:"node"`
	Members int            `json:"members"`
	Nodes   map[string]int `json:"nodes"`
}

var presenceClient = &http.Client{Timeout: 2 * time.Second}

// getPresence asks a node what it sees of the room.
func getPresence(url string) (presenceOf, error) {
	var p presenceOf
	resp, err := presenceClient.Get(url)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return p, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return p, json.NewDecoder(resp.Body).Decode(&p)
}

// runKill runs the load client (with -dying set to the last node), kills
// the last node cfg.killAfter after the sending starts, and measures the
// survivors' presence convergence. It returns the client's standard
// output and error as exec.Cmd.Output would.
func runKill(cfg config, bin string, args []string, procs []*exec.Cmd, presence []string) ([]byte, *killResult, error) {
	k := &killResult{node: len(procs), members: cfg.members / cfg.nodes}
	out, _, kerr, err := runFanout(bin, args, func(start time.Time) error {
		return measureKill(cfg, k, start, procs, presence)
	})
	if kerr != nil {
		k.err = fmt.Errorf("-kill: %w", kerr)
	}
	return out, k, err
}

// measureKill waits until every node sees all the members, kills the last
// node cfg.killAfter after start, and polls the others until its members
// have left their presence.
func measureKill(cfg config, k *killResult, start time.Time, procs []*exec.Cmd, presence []string) error {
	interval := presenceInterval(cfg)
	// Steady: every node lists every member.
	deadline := time.Now().Add(max(10*time.Second, 4*interval))
	for i := 0; i < len(presence); {
		p, err := getPresence(presence[i])
		if err == nil && p.Members == cfg.members {
			if i == len(presence)-1 {
				k.nodeID = p.Node
				k.members = p.Nodes[p.Node]
			}
			i++
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d sees %d of %d members (%v)", i+1, p.Members, cfg.members, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(start.Add(cfg.killAfter)))
	dead := procs[len(procs)-1]
	if err := dead.Process.Kill(); err != nil { // SIGKILL
		return err
	}
	killed := time.Now()
	k.after = killed.Sub(start)

	survivors := presence[:len(presence)-1]
	k.converged = make([]time.Duration, len(survivors))
	for i := range k.converged {
		k.converged[i] = -1
	}
	bound := 6*interval + 10*time.Second
	// Hub.Members of a big room costs milliseconds (16,000 members: a
	// slice built and sorted), so poll at a fiftieth of the interval: the
	// convergence is known to 2 % of an interval, and the polling does not
	// load the nodes.
	poll := min(max(interval/50, 10*time.Millisecond), 100*time.Millisecond)
	for left := len(survivors); left > 0; {
		for i, url := range survivors {
			if k.converged[i] >= 0 {
				continue
			}
			p, err := getPresence(url)
			if err == nil && p.Nodes[k.nodeID] == 0 {
				k.converged[i] = time.Since(killed)
				left--
			}
		}
		if left > 0 && time.Since(killed) > bound {
			return fmt.Errorf("%d of %d surviving nodes still list the killed node's members %v after the kill", left, len(survivors), bound)
		}
		time.Sleep(poll)
	}
	return nil
}

// convergence returns the slowest survivor's convergence time.
func (k *killResult) convergence() time.Duration {
	if len(k.converged) == 0 {
		return -1
	}
	if slices.Contains(k.converged, -1) {
		return -1
	}
	return slices.Max(k.converged)
}

// killReport renders the -kill runs as a Markdown table, or "" if none.
func killReport(runs []runResult) string {
	var b strings.Builder
	for _, r := range runs {
		if r.kill == nil {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\nNode killed (SIGKILL) during the run:\n\n")
			b.WriteString("| broker | nodes | members | presence interval | killed | its members | killed after | presence converged on the survivors | its members' lost deliveries | survivors' lost | survivors' dup |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		}
		k := r.kill
		conv := "not within the bound"
		if c := k.convergence(); c >= 0 {
			conv = fmt.Sprintf("%d–%d ms", slices.Min(k.converged).Milliseconds(), c.Milliseconds())
		}
		var deadLost int64
		if d := r.res.Dying; d > 0 && d <= len(r.res.Nodes) {
			deadLost = r.res.Nodes[d-1].Lost
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | node %d | %d | %.1f s | %s | %d | %d | %d |\n",
			r.cfg.broker, r.cfg.nodes, r.cfg.members, presenceInterval(r.cfg), k.node, k.members,
			k.after.Seconds(), conv, deadLost, r.res.Lost, r.res.Dup)
	}
	return b.String()
}
