package framework_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// hijackRecorder is an httptest.ResponseRecorder that can be hijacked: the
// connection it hands over is one end of a pipe whose other end is
// already closed, so an upgraded connection ends at once.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// handshakeStatuses are the statuses a handshake may get: those of
// checkHandshake and the limits (the table "What bad input gets" in
// docs/limits.md), and 401 from the test routes' OnHandshake.
var handshakeStatuses = map[int]bool{
	http.StatusSwitchingProtocols:          true,
	http.StatusBadRequest:                  true,
	http.StatusUnauthorized:                true,
	http.StatusForbidden:                   true,
	http.StatusNotFound:                    true,
	http.StatusMethodNotAllowed:            true,
	http.StatusUpgradeRequired:             true,
	http.StatusRequestHeaderFieldsTooLarge: true,
}

// FuzzHandshake sends random requests (method, target and header lines,
// parsed by net/http as the server would) through ServeHTTP: it never
// panics, and it answers with a status of the bad-input table.
func FuzzHandshake(f *testing.F) {
	valid := "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13"
	f.Add("GET", "/echo", valid)
	f.Add("GET", "/echo", valid+"\nOrigin: https://evil.example\nSec-Fetch-Site: cross-site")
	f.Add("GET", "/echo", valid+"\nOrigin: http://example.com")
	f.Add("GET", "/echo", valid+"\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
	f.Add("GET", "/echo", valid+"\nSec-WebSocket-Protocol: chat, , superchat")
	f.Add("GET", "/probe/12?reject=1&probe=1", valid)
	f.Add("GET", "/probe/abc", valid)
	f.Add("POST", "/echo", valid)
	f.Add("GET", "/echo", "Upgrade: websocket\nConnection: keep-alive, Upgrade\nSec-WebSocket-Version: 8")
	f.Add("GET", "/echo", "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: short\nSec-WebSocket-Key: twice")
	f.Add("GET", "/echo", valid+"\nX-Pad: "+strings.Repeat("a", 5000))
	f.Add("GET", "/%zz", valid)
	srv := framework.NewServer(framework.Options{Logger: (&logBuffer{}).logger(), Compression: true, Subprotocols: []string{"chat"}})
	if err := srv.Register(testBP); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target, headers string) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: example.com\r\n" +
			strings.ReplaceAll(strings.ReplaceAll(headers, "\r", ""), "\n", "\r\n") + "\r\n\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 before the server sees it
		}
		r.RemoteAddr = "192.0.2.1:1234"
		server, client := net.Pipe()
		client.Close()
		w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder(), conn: server}
		srv.ServeHTTP(w, r)
		if !handshakeStatuses[w.Code] {
			t.Fatalf("got status %d for\n%q", w.Code, raw)
		}
		if w.Code == http.StatusSwitchingProtocols && !strings.EqualFold(w.Header().Get("Upgrade"), "websocket") {
			t.Fatalf("got 101 without Upgrade: websocket for\n%q", raw)
		}
	})
}
