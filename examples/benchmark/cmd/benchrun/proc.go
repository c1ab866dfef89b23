package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one running echo server process.
type server struct {
	name string
	cmd  *exec.Cmd
	addr string
	pid  int
	out  bytes.Buffer
}

// startServer runs bin --addr 127.0.0.1:<free port> args... and waits until
// it accepts connections.
func startServer(ctx context.Context, bs benchServer, bin string, args ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startServerAt(ctx, bs, bin, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), args...)
}

// startServerAt runs bin --addr addr args... and waits until it accepts
// connections.
func startServerAt(ctx context.Context, bs benchServer, bin, addr string, args ...string) (*server, error) {
	name := bs.name
	s := &server{name: name, addr: addr}
	s.cmd = exec.Command(bin, append([]string{"--addr", s.addr}, args...)...)
	// nows's echo example serves metrics on an admin listener unless told
	// not to: off (metrics off, and its port free), but for nows-metrics.
	s.cmd.Env = append(os.Environ(), "NOWS_ADMIN_ADDR="+bs.adminAddr)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.pid = s.cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("%s did not start listening on %s: %v\n%s", name, s.addr, err, s.out.String())
		}
		time.Sleep(2 * time.Millisecond) // the recovery scenario times from here
	}
}

// url returns the server's /echo URL.
func (s *server) url() string { return "ws://" + s.addr + "/echo" }

// baseURL returns the server's ws:// URL without a path, for cmd/fanout.
func (s *server) baseURL() string { return "ws://" + s.addr }

// kill kills the server with SIGKILL and waits for it to exit.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// stop sends SIGTERM, waits up to 5 s, then kills.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// rssKiB returns VmRSS from /proc/PID/status, in KiB.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// fdCount returns the number of open file descriptors of the process.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// clockTicks returns CLK_TCK from getconf, or 100.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// machine describes the host for the report.
type machine struct {
	CPUs   int
	Model  string
	Go     string
	Kernel string
	Memory string
}

func describeMachine(goVersion string) machine {
	m := machine{Go: goVersion, Model: "unknown", Kernel: "unknown", Memory: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "processor") {
				m.CPUs++
			}
			if v, ok := strings.CutPrefix(line, "model name"); ok && m.Model == "unknown" {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			}
		}
	}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.CPUs = n
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(v)
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return m
}

// loadAvg returns the 1-minute load average from /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
