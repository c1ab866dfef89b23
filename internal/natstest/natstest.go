// Package natstest is a NATS server for tests: in this process, on
// 127.0.0.1, shut down at the test's end, and able to stop and start again
// on the same port (and JetStream store) for outage tests. Only tests use
// it; it is not part of nows's API.
package natstest

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server that a test started.
type Server struct {
	mu   sync.Mutex // Start and Stop may be called from other goroutines (outage checks)
	opts server.Options
	ns   *server.Server
}

// Start starts a server with opts on a free 127.0.0.1 port (Host, Port,
// NoLog and NoSigs are set here; set JetStream and StoreDir, MaxPayload
// and the like as the test needs) and waits until it takes connections;
// the test's cleanup stops it.
func Start(t testing.TB, opts server.Options) *Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s := &Server{opts: opts}
	s.Start(t)
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again after Stop, on the same port and store.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := s.opts // server.NewServer keeps and changes what it is given
	ns, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready within 10s")
	}
	s.ns = ns
	s.opts.Port = ns.Addr().(*net.TCPAddr).Port
}

// Stop shuts the server down and waits for it; it does nothing when the
// server is stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.ns = nil
	}
}

// URL returns the server's nats:// URL, which stays the same across
// Stop and Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://127.0.0.1:" + strconv.Itoa(s.opts.Port)
}
