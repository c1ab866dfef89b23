package redisbroker_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	redisbroker "github.com/nowebsocket/nows/framework/broker/redisbroker"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisServer is a redis-server process on 127.0.0.1 that a test can stop
// and start again on the same port.
type redisServer struct {
	bin  string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts redis-server, or skips the test when it is not
// installed, except in CI (CI=true), where Redis is required.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is required in CI: %v", err)
		}
		t.Skip("redis-server not installed (apt-get install redis-server); the Redis tests run only with it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{bin: bin, port: port}
	s.start(t)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("redis-server exited at start (port %d)", s.port)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not listening on %s within 10s", s.addr())
		}
	}
}

func (s *redisServer) stop(testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *redisServer) broker(t testing.TB) framework.Broker {
	t.Helper()
	b, err := redisbroker.Connect("redis://"+s.addr(), redisbroker.Options{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestBroker runs the cross-node checks: three servers sharing a real
// redis-server, which the outage check kills and starts again.
func TestBroker(t *testing.T) {
	rs := startRedis(t)
	brokertest.Run(t, brokertest.Harness{
		NewBroker: rs.broker,
		Stop:      rs.stop,
		Start:     rs.start,
	})
}

func TestConnectBadURL(t *testing.T) {
	if _, err := redisbroker.Connect("http://nope", redisbroker.Options{}); err == nil {
		t.Fatal("Connect(http://nope): got nil error, want one")
	}
}

// TestPublishDown: Publish fails, within its context, while Redis is down.
func TestPublishDown(t *testing.T) {
	rs := startRedis(t)
	b := rs.broker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Publish(ctx, "t", []byte("x")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	rs.stop(t)
	if err := b.Publish(ctx, "t", []byte("x")); err == nil {
		t.Fatal("Publish with Redis down: got nil error, want one")
	}
}
