// Package redistest is a redis-server for tests: on a free 127.0.0.1
// port, without persistence, killed at the test's end, and able to go down
// and come back on the same port for outage tests. Only tests use it; it
// is not part of nows's API.
package redistest

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Server is a redis-server process that a test started.
type Server struct {
	bin, port string
	args      []string
	cmd       *exec.Cmd
	done      chan struct{} // closed when cmd has exited
}

// Start starts redis-server on a free 127.0.0.1 port, with args after
// the address and no-persistence flags, and waits until it listens; the
// test's cleanup kills it. Without redis-server on PATH the test skips,
// except in CI (CI=true), where it fails.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is required in CI: %v", err)
		}
		t.Skip("redis-server not installed (apt-get install redis-server); the test runs only with it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	s := &Server{bin: bin, port: port, args: args}
	t.Cleanup(s.Stop)
	s.Restart(t)
	return s
}

// Addr is the server's address, host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + s.port }

// URL is the server's redis:// URL, as the Redis engines' Connect take.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Stop kills redis-server with SIGKILL, as a crash would, and waits until
// it has exited; what it held is gone. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped redis-server again, empty, on the same port
// with the same args, and waits until it listens.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		t.Fatalf("redistest: Restart of the redis-server on %s, which is running; Stop it first", s.Addr())
	}
	cmd := exec.Command(s.bin, append([]string{"--bind", "127.0.0.1", "--port", s.port,
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}, s.args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.waitListening(t)
}

// waitListening returns once a TCP connection to s succeeds, and fails
// the test when redis-server exits first or 10s pass.
func (s *Server) waitListening(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-s.done:
			s.cmd = nil
			t.Fatalf("redis-server exited at start (%s)", s.Addr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not listening on %s within 10s", s.Addr())
		}
	}
}
