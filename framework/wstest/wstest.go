// Package wstest tests nows handlers over real sockets, the way
// net/http/httptest tests HTTP handlers: serve blueprints on 127.0.0.1,
// dial a route, send, and expect what comes back, with bounded waits.
//
//	func TestEcho(t *testing.T) {
//		srv := wstest.NewServer(t, blueprints.Echo)
//		c := srv.Dial(t, "/echo")
//		c.SendText("hi")
//		c.ExpectText("hi")
//	}
//
// Every failure is reported with t.Fatalf from the test goroutine; the
// server and clients are closed by t.Cleanup, which also checks that the
// server shut down cleanly.
package wstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// DefaultTimeout bounds every wait of a Client unless Client.Timeout is set.
const DefaultTimeout = 5 * time.Second

// Server is a framework.Server listening on a random port of 127.0.0.1.
type Server struct {
	*framework.Server
	// Addr is the listening address, "127.0.0.1:port".
	Addr string
}

// NewServer serves the blueprints with default options. It fails the test
// when a blueprint cannot be registered.
func NewServer(t testing.TB, bps ...*framework.Blueprint) *Server {
	t.Helper()
	return NewServerOptions(t, framework.Options{}, bps...)
}

// NewServerOptions serves the blueprints with the given options.
func NewServerOptions(t testing.TB, opts framework.Options, bps ...*framework.Blueprint) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	srv := framework.NewServer(opts)
	if err := srv.Register(bps...); err != nil {
		t.Fatalf("wstest: register: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("wstest: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, framework.ErrServerClosed) {
				t.Errorf("wstest: server shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("wstest: server did not shut down within 30s")
		}
	})
	return &Server{Server: srv, Addr: ln.Addr().String()}
}

// URL returns the ws:// URL of path on the server.
func (s *Server) URL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "ws://" + s.Addr + path
}

// Dial connects to path and fails the test if the handshake fails.
func (s *Server) Dial(t testing.TB, path string) *Client {
	t.Helper()
	c, resp, err := s.DialOptions(t, path, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("wstest: dial %s: %v (HTTP status %d)", path, err, status)
	}
	return c
}

// DialOptions connects to path with coder/websocket dial options and
// returns the handshake error instead of failing, to test rejections.
func (s *Server) DialOptions(t testing.TB, path string, opts *websocket.DialOptions) (*Client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, s.URL(path), opts)
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(-1)
	c := &Client{t: t, ws: ws, Timeout: DefaultTimeout}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return c, resp, nil
}

// Client is a test WebSocket client. Its methods fail the test on error and
// must be called from the test goroutine.
type Client struct {
	t  testing.TB
	ws *websocket.Conn
	// Timeout bounds each send and receive. Defaults to DefaultTimeout.
	Timeout time.Duration
}

// Conn returns the underlying coder/websocket client connection.
func (c *Client) Conn() *websocket.Conn { return c.ws }

func (c *Client) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.Timeout)
}

// SendText sends a text message.
func (c *Client) SendText(text string) {
	c.t.Helper()
	c.send(websocket.MessageText, []byte(text))
}

// SendBinary sends a binary message.
func (c *Client) SendBinary(data []byte) {
	c.t.Helper()
	c.send(websocket.MessageBinary, data)
}

// SendJSON sends v as JSON in a text message.
func (c *Client) SendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatalf("wstest: SendJSON: %v", err)
	}
	c.send(websocket.MessageText, b)
}

func (c *Client) send(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("wstest: send: %v", err)
	}
}

// Read returns the next message and its type.
func (c *Client) Read() (websocket.MessageType, []byte) {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("wstest: read: %v", err)
	}
	return typ, b
}

// ReadText returns the next message, which must be text.
func (c *Client) ReadText() string {
	c.t.Helper()
	typ, b := c.Read()
	if typ != websocket.MessageText {
		c.t.Fatalf("wstest: got a %v message %q, want text", typ, b)
	}
	return string(b)
}

// ReadBinary returns the next message, which must be binary.
func (c *Client) ReadBinary() []byte {
	c.t.Helper()
	typ, b := c.Read()
	if typ != websocket.MessageBinary {
		c.t.Fatalf("wstest: got a %v message %q, want binary", typ, b)
	}
	return b
}

// ExpectText fails the test unless the next message is the text want.
func (c *Client) ExpectText(want string) {
	c.t.Helper()
	if got := c.ReadText(); got != want {
		c.t.Fatalf("wstest: got text %q, want %q", got, want)
	}
}

// ExpectBinary fails the test unless the next message is the binary want.
func (c *Client) ExpectBinary(want []byte) {
	c.t.Helper()
	if got := c.ReadBinary(); !bytes.Equal(got, want) {
		c.t.Fatalf("wstest: got binary %x, want %x", got, want)
	}
}

// ReadJSON decodes the next message, which must be text, into v.
func (c *Client) ReadJSON(v any) {
	c.t.Helper()
	b := c.ReadText()
	if err := json.Unmarshal([]byte(b), v); err != nil {
		c.t.Fatalf("wstest: ReadJSON %q: %v", b, err)
	}
}

// ExpectClose reads until the server closes the connection and fails the
// test unless it closed with code. It returns the close reason.
func (c *Client) ExpectClose(code websocket.StatusCode) string {
	c.t.Helper()
	ctx, cancel := c.ctx()
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("wstest: got %v, want close %v", err, code)
		}
		if websocket.StatusCode(ce.Code) != code {
			c.t.Fatalf("wstest: got close %v %q, want %v", websocket.StatusCode(ce.Code), ce.Reason, code)
		}
		return ce.Reason
	}
}

// Close closes the connection normally (1000) and waits for the handshake.
func (c *Client) Close() {
	c.t.Helper()
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
}
