package framework_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// This file tests the security defaults of docs/security.md on a server
// with zero Options.

// A browser page on another site cannot open a WebSocket to the server
// (cross-site WebSocket hijacking): its Origin is refused by default.
func TestSecurityCrossOrigin(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{}))
	testCases := []struct {
		name    string
		headers []string
		want    int
	}{
		{"cross-site browser request", []string{"Origin: https://evil.example", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: websocket", "Cookie: session=victim"}, http.StatusForbidden},
		{"cross-site with a look-alike host", []string{"Origin: http://" + srv.Addr + ".evil.example", "Sec-Fetch-Site: cross-site"}, http.StatusForbidden},
		{"sandboxed page (Origin null)", []string{"Origin: null", "Sec-Fetch-Site: cross-site"}, http.StatusForbidden},
		{"malformed Origin", []string{"Origin: ::not a url"}, http.StatusForbidden},
		{"same origin", []string{"Origin: http://" + srv.Addr, "Sec-Fetch-Site: same-origin"}, http.StatusSwitchingProtocols},
		{"not a browser (no Origin)", nil, http.StatusSwitchingProtocols},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, nc, _ := rawRequest(t, srv.Addr, upgradeRequest(srv.Addr, "/echo", tc.headers...))
			defer nc.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// Errors from hooks never reach the client: it gets 1011 and no reason,
// while the log has the detail.
func TestSecurityNoInternalErrorText(t *testing.T) {
	t.Parallel()
	const secret = "secret db password"
	f := newFaults(t)
	f.open = func(ctx context.Context, c *framework.Conn) error {
		if c.Request().URL.Query().Get("in") == "open" {
			return errors.New(secret)
		}
		return nil
	}
	f.message = func(ctx context.Context, c *framework.Conn, text string) error {
		return errors.New(secret)
	}
	f.binary = func(ctx context.Context, c *framework.Conn, data []byte) error {
		panic(secret)
	}
	logs := &logBuffer{}
	srv := serve(t, framework.Options{Logger: logs.logger()}, faultBP)
	for _, in := range []string{"open", "message", "binary"} {
		c := dialRaw(t, srv.Addr, f.path("in="+in))
		switch in {
		case "message":
			c.send(opText, []byte("hi"))
		case "binary":
			c.send(opBinary, []byte("hi"))
		}
		if reason := c.expectClose(websocket.StatusInternalError); reason != "" {
			t.Errorf("%s: got close reason %q, want none", in, reason)
		}
		if st := f.waitClose(t); st.Reason != "" || !strings.Contains(st.Err.Error(), secret) {
			t.Errorf("%s: OnClose got %v (err %v), want no reason and the error", in, st, st.Err)
		}
	}
	eventually(t, "the errors logged", func() bool { return strings.Count(logs.String(), secret) >= 3 })
}

// Every limit is on in a zero Options.
func TestSecurityDefaults(t *testing.T) {
	t.Parallel()
	o := framework.OptionsOf(framework.NewServer(framework.Options{}))
	testCases := []struct {
		name      string
		got, want any
	}{
		{"MaxHeaderBytes", o.MaxHeaderBytes, 4096},
		{"MaxMessageBytes", o.MaxMessageBytes, int64(2 << 20)},
		{"ReadTimeout", o.ReadTimeout, 1800 * time.Second},
		{"HandshakeTimeout", o.HandshakeTimeout, 10 * time.Second},
		{"WriteTimeout", o.WriteTimeout, 10 * time.Second},
		{"ShutdownTimeout", o.ShutdownTimeout, 10 * time.Second},
		{"AllowedOrigins (same origin only)", len(o.AllowedOrigins), 0},
		{"Compression", o.Compression, false},
		{"SendQueue.MaxMessages", o.SendQueue.MaxMessages, 256},
		{"SendQueue.MaxBytes", o.SendQueue.MaxBytes, 4 << 20},
		{"SendQueue.Policy", o.SendQueue.Policy, framework.QueueClose},
		{"MessageRate (off)", o.MessageRate, 0.0},
		{"ByteRate (off)", o.ByteRate, int64(0)},
		{"MaxConns (off)", o.MaxConns, 0},
		{"MaxConnsPerIP (off)", o.MaxConnsPerIP, 0},
	}
	for _, tc := range testCases {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
