// Package cutproxy is a loopback TCP proxy for tests that cut a client's
// connection the way a network does: without a close handshake, so a
// WebSocket client sees 1006 and must reconnect by itself. It is a test
// helper, not part of nows's API.
package cutproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards every connection accepted on Addr to its target.
type Proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string
	pairs  map[*pair]struct{}
	closed bool
}

// pair is one client connection and its upstream.
type pair struct{ down, up *net.TCPConn }

// Start listens on a free 127.0.0.1 port and forwards to target. The
// test's cleanup closes it and every connection through it.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, pairs: make(map[*pair]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget makes the connections accepted from now on go to addr.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// Cut resets every connection open through the proxy, both ways, and
// returns how many it cut. The proxy keeps accepting new ones.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.pairs)
	for pr := range p.pairs {
		pr.reset()
		delete(p.pairs, pr)
	}
	return n
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			resetConn(c.(*net.TCPConn))
			continue
		}
		pr := &pair{down: c.(*net.TCPConn), up: up.(*net.TCPConn)}
		if !p.add(pr) {
			pr.reset()
			return
		}
		p.wg.Add(2)
		go p.copy(pr, pr.up, pr.down)
		go p.copy(pr, pr.down, pr.up)
	}
}

// add records pr unless the proxy is closed.
func (p *Proxy) add(pr *pair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.pairs[pr] = struct{}{}
	return true
}

// copy forwards from src to dst. The first direction to end closes both
// sockets (a FIN, not a reset: what came before it is delivered).
func (p *Proxy) copy(pr *pair, dst, src *net.TCPConn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// reset closes both sockets with a TCP reset: the peers see the
// connection lost, with no close frame and no FIN.
func (pr *pair) reset() {
	resetConn(pr.down)
	resetConn(pr.up)
}

func resetConn(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}
