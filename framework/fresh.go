package framework

import (
	"net"
	"net/http"
	"sync"
)

// freshConns holds the sockets Serve accepted that have not sent a request
// yet. net/http's Shutdown counts such a socket as busy for its first five
// seconds, and browsers open one ahead of need and may leave it unused:
// a server with a page open would take five seconds to stop. Shutdown
// closes them at once, and those accepted after it too.
type freshConns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// track is the http.Server's ConnState hook.
func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case st == http.StateNew && f.closed:
		_ = c.Close()
	case st == http.StateNew:
		if f.conns == nil {
			f.conns = make(map[net.Conn]struct{})
		}
		f.conns[c] = struct{}{}
	default:
		delete(f.conns, c)
	}
}

// closeAll closes the sockets that have sent nothing, now and from now on.
func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	clear(f.conns)
}
