package framework_test

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
)

// dialFrom sends a handshake for path to addr from the local address ip
// (any 127.0.0.0/8 address works on loopback) and returns the response and
// the connection.
func dialFrom(t *testing.T, ip, addr, path string) (*http.Response, *rawConn) {
	t.Helper()
	d := net.Dialer{Timeout: rawTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(rawTimeout))
	if _, err := io.WriteString(nc, upgradeRequest(addr, path)); err != nil {
		t.Fatal(err)
	}
	br := bufioReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return resp, &rawConn{t: t, nc: nc, br: br, resp: resp}
}

// expectBusy fails the test unless resp is 503 with a Retry-After.
func expectBusy(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got status %d, want 503", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("got Retry-After %q, want \"5\"", ra)
	}
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	const max = 3
	f := newFaults(t)
	var handshakes atomic.Int64
	f.handshake = func(r *http.Request) error { handshakes.Add(1); return nil }
	srv := serve(t, quietOptions(framework.Options{MaxConns: max}), faultBP)
	var conns []*rawConn
	for i := range max {
		resp, c := dialFrom(t, "127.0.0.1", srv.Addr, f.path())
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d: got status %d, want 101", i, resp.StatusCode)
		}
		f.waitOpen(t)
		conns = append(conns, c)
	}
	// Over the limit, from this address or another: 503, before OnHandshake.
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		resp, _ := dialFrom(t, ip, srv.Addr, f.path())
		expectBusy(t, resp)
	}
	if got := handshakes.Load(); got != max {
		t.Errorf("OnHandshake ran %d times, want %d: a refused handshake must not reach it", got, max)
	}
	// Other requests are not counted against the limit.
	resp, _ := dialFrom(t, "127.0.0.1", srv.Addr, "/nowhere")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unrouted path: got status %d, want 404", resp.StatusCode)
	}
	// A closed connection frees its place.
	conns[0].closeNormally()
	f.waitClose(t)
	eventually(t, "a place freed", func() bool {
		resp, c := dialFrom(t, "127.0.0.1", srv.Addr, f.path())
		if resp.StatusCode == http.StatusSwitchingProtocols {
			f.waitOpen(t)
			c.closeNormally()
			f.waitClose(t)
			return true
		}
		expectBusy(t, resp)
		return false
	})
}

func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	const perIP = 2
	f := newFaults(t)
	srv := serve(t, quietOptions(framework.Options{MaxConnsPerIP: perIP}), faultBP)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		for i := range perIP {
			resp, _ := dialFrom(t, ip, srv.Addr, f.path())
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("%s, connection %d: got status %d, want 101", ip, i, resp.StatusCode)
			}
			f.waitOpen(t)
		}
		resp, _ := dialFrom(t, ip, srv.Addr, f.path())
		expectBusy(t, resp)
	}
	// A third address still gets in.
	resp, c := dialFrom(t, "127.0.0.3", srv.Addr, f.path())
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("127.0.0.3: got status %d, want 101", resp.StatusCode)
	}
	f.waitOpen(t)
	c.send(opText, []byte("in"))
	c.expectMessage(opText, []byte("in"))
	c.closeNormally()
	f.waitClose(t)
}

// Connection limits are off by default (see Options.MaxConnsPerIP).
func TestConnLimitDefaults(t *testing.T) {
	t.Parallel()
	o := framework.OptionsOf(framework.NewServer(framework.Options{}))
	if o.MaxConns != 0 || o.MaxConnsPerIP != 0 {
		t.Errorf("got MaxConns %d, MaxConnsPerIP %d, want 0 (no limit) by default", o.MaxConns, o.MaxConnsPerIP)
	}
}
