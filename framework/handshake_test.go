package framework_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
)

// request builds a raw HTTP request: the request line, Host, then headers.
func request(method, path, proto, host string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\nHost: %s\r\n", method, path, proto, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// upgradeHeaders returns the headers of a valid handshake, minus those
// named in without, plus extra.
func upgradeHeaders(without []string, extra ...string) []string {
	all := []string{
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + wsKey(),
		"Sec-WebSocket-Version: 13",
	}
	var hs []string
next:
	for _, h := range all {
		for _, w := range without {
			if strings.HasPrefix(h, w+":") {
				continue next
			}
		}
		hs = append(hs, h)
	}
	return append(hs, extra...)
}

func TestHandshakeStatus(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{AllowedOrigins: []string{"*.trusted.example", "https://app.example"}})
	p := newProbe(t)
	addr := srv.Addr
	testCases := []struct {
		name       string
		req        string
		want       int
		wantHeader [2]string // a header the response must have
	}{
		{"no route", request("GET", "/nope", "HTTP/1.1", addr, upgradeHeaders(nil)...), 404, [2]string{}},
		{"no route no upgrade", request("GET", "/nope", "HTTP/1.1", addr), 404, [2]string{}},
		{"plain GET on a route", request("GET", "/echo", "HTTP/1.1", addr), 426, [2]string{"Upgrade", "websocket"}},
		{"upgrade without Connection", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Connection"})...), 426, [2]string{"Upgrade", "websocket"}},
		{"missing key", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Sec-WebSocket-Key"})...), 400, [2]string{}},
		{"key not base64", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: not base64!!")...), 400, [2]string{}},
		{"key of 15 bytes", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")...), 400, [2]string{}},
		{"two keys", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Sec-WebSocket-Key: "+wsKey())...), 400, [2]string{}},
		{"HTTP/1.0", request("GET", "/echo", "HTTP/1.0", addr, upgradeHeaders(nil)...), 400, [2]string{}},
		{"POST", request("POST", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Content-Length: 0")...), 405, [2]string{"Allow", "GET"}},
		{"version 8", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8")...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no version", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders([]string{"Sec-WebSocket-Version"})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"cross-origin", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: http://evil.example")...), 403, [2]string{}},
		{"cross-origin same host other port", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: http://127.0.0.1:1")...), 403, [2]string{}},
		{"cross-origin scheme pattern, wrong scheme", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: http://app.example")...), 403, [2]string{}},
		{"origin null", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: null")...), 403, [2]string{}},
		{"same origin", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: http://"+addr)...), 101, [2]string{"Upgrade", "websocket"}},
		{"no origin", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil)...), 101, [2]string{}},
		{"allowed host pattern", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: https://chat.trusted.example")...), 101, [2]string{}},
		{"allowed scheme pattern", request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "Origin: https://app.example")...), 101, [2]string{}},
		{"OnHandshake rejects", request("GET", "/probe?reject=1&"+p.query(), "HTTP/1.1", addr, upgradeHeaders(nil)...), 401, [2]string{}},
		{"int param does not parse", request("GET", "/probe/abc", "HTTP/1.1", addr, upgradeHeaders(nil)...), 404, [2]string{}},
		{"int param overflows", request("GET", "/probe/99999999999999999999", "HTTP/1.1", addr, upgradeHeaders(nil)...), 404, [2]string{}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, nc, _ := rawRequest(t, addr, tc.req)
			if resp.StatusCode != tc.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tc.want)
			}
			if k := tc.wantHeader[0]; k != "" && !strings.EqualFold(resp.Header.Get(k), tc.wantHeader[1]) {
				t.Errorf("got %s %q, want %q", k, resp.Header.Get(k), tc.wantHeader[1])
			}
			if tc.want != 101 && resp.Header.Get("Sec-WebSocket-Accept") != "" {
				t.Errorf("got Sec-WebSocket-Accept on a %d response", tc.want)
			}
			if tc.want == 101 {
				_ = nc.Close()
			}
		})
	}
	if n := len(p.opened); n != 0 {
		t.Errorf("got %d OnOpen after a rejected handshake, want 0", n)
	}
}

// padRequest returns a valid handshake for /echo whose request line and
// headers (as net/http and the limit count them) are exactly size bytes.
func padRequest(t *testing.T, addr string, size int) string {
	t.Helper()
	base := request("GET", "/echo", "HTTP/1.1", addr, upgradeHeaders(nil, "X-Pad: ")...)
	n := size - len(base)
	if n < 1 {
		t.Fatalf("size %d is too small for a handshake (%d bytes)", size, len(base))
	}
	return strings.Replace(base, "X-Pad: ", "X-Pad: "+strings.Repeat("a", n), 1)
}

func TestHandshakeMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name  string
		limit int // 0: the default
		size  int
		want  int
	}{
		{"default exactly at limit", 0, 4096, 101},
		{"default one byte over", 0, 4096 + 1, 431},
		{"default 4 KiB over", 0, 4096 + 4096, 431},
		{"custom exactly at limit", 1000, 1000, 101},
		{"custom one byte over", 1000, 1001, 431},
		{"custom large exactly at limit", 20000, 20000, 101},
		{"custom large one byte over", 20000, 20001, 431},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, framework.Options{MaxHeaderBytes: tc.limit})
			resp, nc, br := rawRequest(t, srv.Addr, padRequest(t, srv.Addr, tc.size))
			if resp.StatusCode != tc.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 101 {
				c := &rawConn{t: t, nc: nc, br: br, resp: resp}
				c.send(opText, []byte("after a big handshake"))
				c.expectMessage(opText, []byte("after a big handshake"))
				c.closeNormally()
				return
			}
			// The server closes the connection after a 431.
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = nc.SetReadDeadline(time.Now().Add(rawTimeout))
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Fatalf("after 431: got %v, want the server to close the connection", err)
			}
		})
	}
}

func TestHandshakeHugeHeadersServerUnharmed(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	for _, size := range []int{64 << 10, 1 << 20} {
		nc, err := net.DialTimeout("tcp", srv.Addr, rawTimeout)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(rawTimeout))
		// The server may answer and close before all is written: ignore
		// write errors and read what it says.
		go func() { _, _ = io.WriteString(nc, padRequest(t, srv.Addr, size)) }()
		resp, err := http.ReadResponse(bufioReader(nc), nil)
		switch {
		case err == nil && resp.StatusCode != 431:
			t.Errorf("%d bytes of headers: got status %d, want 431", size, resp.StatusCode)
		case err != nil && !isConnEnd(err):
			t.Errorf("%d bytes of headers: got %v, want 431 or a closed connection", size, err)
		}
		_ = nc.Close()
	}
	c := dialRaw(t, srv.Addr, "/echo")
	c.send(opText, []byte("still serving"))
	c.expectMessage(opText, []byte("still serving"))
	c.closeNormally()
}

func TestHandshakeTimeoutSlowloris(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	srv := serve(t, framework.Options{HandshakeTimeout: timeout})
	nc, err := net.DialTimeout("tcp", srv.Addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_ = nc.SetReadDeadline(time.Now().Add(rawTimeout))
		_, _ = io.Copy(io.Discard, nc)
		closed <- time.Since(start)
	}()
	req := upgradeRequest(srv.Addr, "/echo")
	tick := time.NewTicker(20 * time.Millisecond) // one byte per tick, far slower than the timeout allows
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case d := <-closed:
			if d < timeout*3/4 { // the server's clock started a little before ours
				t.Fatalf("connection closed after %v, well before the HandshakeTimeout of %v", d, timeout)
			}
			if d >= rawTimeout {
				t.Fatalf("connection not closed within %v (HandshakeTimeout %v)", d, timeout)
			}
			if i >= len(req) {
				t.Fatalf("the whole request was sent before the server closed")
			}
			// The server is unharmed.
			c := dialRaw(t, srv.Addr, "/echo")
			c.send(opText, []byte("next"))
			c.expectMessage(opText, []byte("next"))
			c.closeNormally()
			return
		case <-tick.C:
			if i < len(req) {
				_ = nc.SetWriteDeadline(time.Now().Add(rawTimeout))
				_, _ = nc.Write([]byte{req[i]})
			}
		}
	}
}
