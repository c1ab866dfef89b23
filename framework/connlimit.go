package framework

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
)

// This file holds the connection limits: Options.MaxConns for the whole
// server and Options.MaxConnsPerIP for one client address. A handshake over
// either limit is answered 503 Service Unavailable with a Retry-After header,
// before OnHandshake runs and before any upgrade, so a flood costs the
// server one HTTP response per attempt.

// retryAfterSeconds is the Retry-After of a 503 for a connection limit.
const retryAfterSeconds = 5

// connLimiter counts the WebSocket connections a server holds (from the
// limit check to the end of the connection), in all and per client address.
type connLimiter struct {
	max, perIP int // 0: no limit
	total      atomic.Int64

	mu   sync.Mutex
	byIP map[netip.Prefix]int

	// uncount is the release of a connection not counted per address,
	// made once: a closure per handshake would be an allocation each.
	uncount func()
}

func newConnLimiter(max, perIP int) *connLimiter {
	l := &connLimiter{max: max, perIP: perIP, byIP: make(map[netip.Prefix]int)}
	l.uncount = func() { l.total.Add(-1) }
	return l
}

// acquire counts one more connection from remoteAddr ("ip:port") and
// returns the function that uncounts it, or ok false (and nothing counted)
// when a limit is reached.
func (l *connLimiter) acquire(remoteAddr string) (release func(), ok bool) {
	if l.max > 0 {
		if l.total.Add(1) > int64(l.max) {
			l.total.Add(-1)
			return nil, false
		}
	} else {
		l.total.Add(1)
	}
	if l.perIP <= 0 {
		return l.uncount, true
	}
	key, keyed := clientKey(remoteAddr)
	if !keyed {
		return l.uncount, true
	}
	l.mu.Lock()
	if l.byIP[key] >= l.perIP {
		l.mu.Unlock()
		l.total.Add(-1)
		return nil, false
	}
	l.byIP[key]++
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		if l.byIP[key]--; l.byIP[key] <= 0 {
			delete(l.byIP, key)
		}
		l.mu.Unlock()
		l.total.Add(-1)
	}, true
}

// count returns the connections counted now.
func (l *connLimiter) count() int64 { return l.total.Load() }

// clientKey returns the address block that MaxConnsPerIP counts for a
// client: its IPv4 address, or the /64 of its IPv6 address (one host
// usually holds a whole /64). ok is false for an address that is not IP
// (a Unix socket, or a RemoteAddr a middleware left empty).
func clientKey(remoteAddr string) (netip.Prefix, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// limitConn applies MaxConns and MaxConnsPerIP to a handshake. It answers
// 503 with Retry-After and returns false when a limit is reached; otherwise
// the caller must call release when the connection ends.
func (s *Server) limitConn(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	release, ok = s.limits.acquire(r.RemoteAddr)
	if ok {
		return release, true
	}
	s.log.Debug("nows: connection limit reached", "path", r.URL.Path, "remote", r.RemoteAddr,
		"max_conns", s.opts.MaxConns, "max_conns_per_ip", s.opts.MaxConnsPerIP)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.Header().Set("Connection", "close")
	http.Error(w, "too many connections: retry later", http.StatusServiceUnavailable)
	return nil, false
}

// connCount returns the connections the server tracks now.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
