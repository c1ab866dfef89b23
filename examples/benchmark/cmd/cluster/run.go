//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nowebsocket/nows/examples/benchmark/internal/fanres"
)

// runResult is one cluster run.
type runResult struct {
	cfg  config
	res  fanres.Result
	kill *killResult // with cfg.kill
	err  error
}

// build builds the node server and the load client into cfg.bin.
func build(cfg *config) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if cfg.bin == "" {
		if cfg.bin, err = os.MkdirTemp("", "nows-cluster-"); err != nil {
			return err
		}
	}
	for name, pkg := range map[string]string{"nows": "./servers/nows", "fanout": "./cmd/fanout"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(cfg.bin, name), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

// runCluster starts the broker and the nodes, runs the load client, and
// stops them all.
func runCluster(cfg config) (r runResult) {
	r.cfg = cfg
	brokerURL, brokerPid, stopBroker, err := startBroker(cfg.broker)
	if err != nil {
		r.err = err
		return r
	}
	defer stopBroker()
	var urls, pids, presence []string
	var procs []*exec.Cmd
	for i := range cfg.nodes {
		addr, err := freeAddr()
		if err != nil {
			r.err = err
			return r
		}
		args := []string{"--addr", addr, "--broker", brokerURL}
		if cfg.presence > 0 {
			args = append(args, "--presence-interval", cfg.presence.String())
		}
		paddr := ""
		if cfg.kill {
			if paddr, err = freeAddr(); err != nil {
				r.err = err
				return r
			}
			args = append(args, "--presence-addr", paddr)
			presence = append(presence, "http://"+paddr+"/presence")
		}
		node := exec.Command(filepath.Join(cfg.bin, "nows"), args...)
		var logs bytes.Buffer
		node.Stdout, node.Stderr = &logs, &logs
		if err := node.Start(); err != nil {
			r.err = err
			return r
		}
		defer func() { _ = node.Process.Kill(); _ = node.Wait() }()
		if err := waitListening(addr, 10*time.Second); err != nil {
			r.err = fmt.Errorf("node %d: %w\n%s", i+1, err, logs.String())
			return r
		}
		if paddr != "" {
			if err := waitListening(paddr, 10*time.Second); err != nil {
				r.err = fmt.Errorf("node %d presence: %w\n%s", i+1, err, logs.String())
				return r
			}
		}
		urls = append(urls, "ws://"+addr)
		pids = append(pids, strconv.Itoa(node.Process.Pid))
		procs = append(procs, node)
	}
	args := []string{"-members", strconv.Itoa(cfg.members), "-size", strconv.Itoa(cfg.size),
		"-rate", strconv.FormatFloat(cfg.rate, 'f', -1, 64), "-duration", cfg.duration.String(),
		"-loss-after", cfg.loss.String(), "-timeout", "60s", "-pids", strings.Join(pids, ","),
		"-broker-pid", strconv.Itoa(brokerPid), "-json"}
	var out []byte
	var runErr error
	var selfCPU time.Duration
	if cfg.kill {
		args = append(args, "-dying", strconv.Itoa(cfg.nodes))
		out, r.kill, runErr = runKill(cfg, filepath.Join(cfg.bin, "fanout"), append(args, urls...), procs, presence)
	} else {
		out, selfCPU, _, runErr = runFanout(filepath.Join(cfg.bin, "fanout"), append(args, urls...), nil)
	}
	if err := json.Unmarshal(lastLine(out), &r.res); err != nil {
		r.err = fmt.Errorf("load client: %v (%v)", runErr, err)
		return r
	}
	if cfg.broker == "nats" && selfCPU > 0 {
		// NATS runs in this process, which does nothing else while the
		// client sends: its CPU time, to the microsecond, is the broker's
		// (fanout's is in clock ticks of 10 ms).
		r.res.BrokerCPUus = float64(selfCPU.Microseconds())
	}
	if runErr != nil {
		r.err = fmt.Errorf("load client: lost %d, duplicated %d, errors %d: %s", r.res.Lost, r.res.Dup, r.res.Errors, r.res.FirstError)
	}
	if r.kill != nil && r.kill.err != nil && r.err == nil {
		r.err = r.kill.err
	}
	return r
}

// runFanout runs the load client with -mark. When the sending starts it
// calls atStart (if not nil) and notes this process's CPU time (the NATS
// server's, which runs in it), once more when the client has exited. It
// returns the client's standard output and error as exec.Cmd.Output
// would, this process's CPU time in between (0 if the sending never
// started), and atStart's error.
func runFanout(bin string, args []string, atStart func(start time.Time) error) (out []byte, selfCPU time.Duration, startErr, err error) {
	var stdout bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-mark"}, args...)...)
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, err
	}
	// The client's standard error: "fanout: sending" marks the start of
	// the sending; the rest is kept for the error.
	var logs strings.Builder
	sending := make(chan time.Time, 1)
	var read sync.WaitGroup
	read.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if sc.Text() == "fanout: sending" {
				sending <- time.Now()
				continue
			}
			logs.WriteString(sc.Text() + "\n")
		}
		close(sending)
	})
	var cpu0 time.Duration
	if start, ok := <-sending; ok {
		cpu0 = selfCPUTime()
		if atStart != nil {
			startErr = atStart(start)
		}
	} else {
		startErr = errors.New("the load client stopped before sending")
	}
	read.Wait()
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		ee.Stderr = []byte(logs.String())
	}
	if cpu0 > 0 {
		selfCPU = selfCPUTime() - cpu0
	}
	return stdout.Bytes(), selfCPU, startErr, err
}

// selfCPUTime returns this process's user and system CPU time.
func selfCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// lastLine returns the last non-empty line of b.
func lastLine(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// startBroker starts the broker named kind and returns its URL, its process
// ID (this process's for NATS, which runs in it) and how to stop it.
func startBroker(kind string) (string, int, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", 0, nil, err
	}
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	switch kind {
	case "nats":
		ns, err := server.NewServer(&server.Options{Host: host, Port: port, NoLog: true, NoSigs: true})
		if err != nil {
			return "", 0, nil, err
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return "", 0, nil, fmt.Errorf("nats-server did not start on %s", addr)
		}
		return "nats://" + addr, os.Getpid(), func() { ns.Shutdown(); ns.WaitForShutdown() }, nil
	case "redis":
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return "", 0, nil, fmt.Errorf("redis-server not found (apt-get install redis-server): %w", err)
		}
		cmd := exec.Command(bin, "--port", portStr, "--bind", host, "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			return "", 0, nil, err
		}
		stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		if err := waitListening(addr, 10*time.Second); err != nil {
			stop()
			return "", 0, nil, fmt.Errorf("redis-server: %w", err)
		}
		return "redis://" + addr, cmd.Process.Pid, stop, nil
	}
	return "", 0, nil, fmt.Errorf("-broker %q: want nats or redis", kind)
}

// freeAddr returns a 127.0.0.1 address with a port free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr accepts connections, at most d.
func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %s: %w", addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// report renders the runs as a Markdown table.
func report(runs []runResult) string {
	var b strings.Builder
	b.WriteString("| broker | nodes | members | broadcasts/s | deliveries/s | p50 (ms) | p99 (ms) | lost | dup | CPU µs/delivery per node | result |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n")
	for _, r := range runs {
		var cpu []string
		for i, n := range r.res.Nodes {
			if i+1 == r.res.Dying {
				cpu = append(cpu, "killed")
				continue
			}
			cpu = append(cpu, strconv.FormatFloat(n.CPUusPerDelivery, 'f', 1, 64))
		}
		verdict := "ok"
		if r.err != nil {
			verdict = strings.SplitN(r.err.Error(), "\n", 2)[0]
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %g | %.0f | %.1f | %.1f | %d | %d | %s | %s |\n",
			r.cfg.broker, r.cfg.nodes, r.cfg.members, r.cfg.rate, r.res.DeliveriesPerSec,
			r.res.P50us/1e3, r.res.P99us/1e3, r.res.Lost, r.res.Dup, strings.Join(cpu, ", "), verdict)
	}
	b.WriteString(killReport(runs))
	return b.String()
}
