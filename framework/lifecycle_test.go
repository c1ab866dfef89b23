package framework_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"go.uber.org/goleak"
)

func TestHookOrder(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	c := srv.Dial(t, p.path("/probe"))
	conn := p.waitOpen(t)
	c.SendText("a")
	c.ExpectText("a")
	c.SendBinary([]byte{1, 2, 3})
	c.ExpectBinary([]byte{1, 2, 3})
	c.SendText("b")
	c.ExpectText("b")
	c.Close()
	st := p.waitClose(t)
	if st.Code != websocket.StatusNormalClosure || st.Cause != framework.CausePeer {
		t.Errorf("OnClose got %v, want 1000 (peer closed)", st)
	}
	want := []string{"handshake", "open", "message:a", "binary:3", "message:b", "close"}
	if got := p.eventsOf(conn); !slices.Equal(got, want) {
		t.Fatalf("got hooks %q, want %q", got, want)
	}
}

// Hooks of one connection never run at the same time, even with a busy
// client, sends from other goroutines and a close from the server.
func TestHooksNeverConcurrent(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	var busy sync.WaitGroup
	t.Cleanup(busy.Wait)
	p.onOpen = func(ctx context.Context, c *framework.Conn) error {
		busy.Go(func() {
			for i := 0; ctx.Err() == nil && i < 100; i++ {
				_ = c.SendText(ctx, "from a goroutine")
			}
		})
		return nil
	}
	p.onMsg = func(ctx context.Context, c *framework.Conn, text string) error {
		for range 100 {
			runtime.Gosched() // widen the window for an overlap
		}
		if text == "stop" {
			return websocket.CloseError{Code: 4000, Reason: "stop"}
		}
		return nil
	}
	const clients = 10
	conns := make([]*rawConn, clients)
	for i := range conns {
		conns[i] = dialRaw(t, srv.Addr, p.path("/probe"))
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			var out []byte
			for j := range 50 {
				out = append(out, fr(true, opText, fmt.Sprint(j))...)
			}
			if i%2 == 0 {
				out = append(out, fr(true, opText, "stop")...)
			}
			_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
			_, _ = c.nc.Write(out)
			if i%2 == 1 {
				_ = c.nc.Close() // abrupt
			}
		})
	}
	wg.Wait()
	for i, c := range conns {
		if i%2 == 0 {
			c.expectClose(4000)
		}
	}
	for range clients {
		p.waitClose(t)
	}
	if p.overlap.Load() {
		t.Fatalf("two hooks of one connection ran at the same time")
	}
}

func TestHookErrorsAndPanics(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	srv := serve(t, framework.Options{Logger: logs.logger()})
	testCases := []struct {
		msg        string
		wantCode   websocket.StatusCode
		wantReason string
		wantCause  framework.Cause
		wantLog    string
	}{
		{"error", 1011, "", framework.CauseHandlerError, "secret internal detail"},
		{"panic", 1011, "", framework.CauseHandlerPanic, "secret panic detail"},
		{"closeerror", 4001, "custom reason", framework.CauseClosed, ""},
		{"close", 4002, "closed by app", framework.CauseClosed, ""},
	}
	for _, tc := range testCases {
		t.Run(tc.msg, func(t *testing.T) {
			t.Parallel()
			p := newProbe(t)
			bystander := dialRaw(t, srv.Addr, "/echo")
			c := dialRaw(t, srv.Addr, p.path("/probe"))
			p.waitOpen(t)
			c.send(opText, []byte(tc.msg))
			reason := c.expectClose(tc.wantCode)
			if reason != tc.wantReason {
				t.Errorf("got reason %q, want %q", reason, tc.wantReason)
			}
			st := p.waitClose(t)
			if st.Code != tc.wantCode || st.Reason != tc.wantReason || st.Cause != tc.wantCause {
				t.Errorf("OnClose got %v, want %v %q (%v)", st, tc.wantCode, tc.wantReason, tc.wantCause)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("the log does not mention %q", tc.wantLog)
			}
			// The server keeps serving: an open connection and a new one.
			bystander.send(opText, []byte("still there"))
			bystander.expectMessage(opText, []byte("still there"))
			bystander.closeNormally()
			next := dialRaw(t, srv.Addr, "/echo")
			next.send(opText, []byte("next"))
			next.expectMessage(opText, []byte("next"))
			next.closeNormally()
		})
	}
	t.Run("panic is logged with its stack", func(t *testing.T) {
		t.Parallel()
		p := newProbe(t)
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		c.send(opText, []byte("panic"))
		c.expectClose(1011)
		p.waitClose(t)
		l := logs.String()
		if !strings.Contains(l, "panic in handler") || !regexp.MustCompile(`stack\.0="[^"\n]+ \([^"\n]+\.go:\d+\)"`).MatchString(l) {
			t.Errorf("the panic log has no stack of frames (stack.0=\"func (file:line)\"):\n%s", l)
		}
		if !regexp.MustCompile(`stack\.\d+="[^"\n]*main_test\.go:\d+\)"`).MatchString(l) {
			t.Errorf("no frame of the stack names the handler's file:\n%s", l)
		}
	})
}

func TestOpenHookFailures(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{Logger: (&logBuffer{}).logger()})
	testCases := []struct {
		name   string
		open   func(ctx context.Context, c *framework.Conn) error
		want   websocket.StatusCode
		reason string
		cause  framework.Cause
	}{
		{"error", func(context.Context, *framework.Conn) error { return errors.New("db down") }, 1011, "", framework.CauseHandlerError},
		{"panic", func(context.Context, *framework.Conn) error { panic("boom") }, 1011, "", framework.CauseHandlerPanic},
		{"close error", func(context.Context, *framework.Conn) error {
			return websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "go away"}
		}, 1008, "go away", framework.CauseClosed},
		{"close error as a pointer", func(context.Context, *framework.Conn) error {
			return &websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "go away"}
		}, 1008, "go away", framework.CauseClosed},
		{"close error with a reason over 123 bytes", func(context.Context, *framework.Conn) error {
			return websocket.CloseError{Code: 4000, Reason: strings.Repeat("关", 42)} // 126 bytes
		}, 4000, strings.Repeat("关", 41), framework.CauseClosed},
		{"Close with a reason over 123 bytes", func(_ context.Context, c *framework.Conn) error {
			return c.Close(4003, strings.Repeat("é", 70)) // 140 bytes; 123 would split an é
		}, 4003, strings.Repeat("é", 61), framework.CauseClosed},
		{"close error with a bad code", func(context.Context, *framework.Conn) error {
			return websocket.CloseError{Code: 1005, Reason: "no"}
		}, 1011, "", framework.CauseHandlerError},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProbe(t)
			p.onOpen = tc.open
			c := dialRaw(t, srv.Addr, p.path("/probe"))
			if got := c.expectClose(tc.want); got != tc.reason {
				t.Errorf("got reason %q, want %q", got, tc.reason)
			}
			if st := p.waitClose(t); st.Code != tc.want || st.Cause != tc.cause {
				t.Errorf("OnClose got %v, want %v (%v)", st, tc.want, tc.cause)
			}
		})
	}
}

// The request and the typed parameters are there in OnOpen; after the
// close, OnClose gets how it ended and the Conn says it is closed.
func TestConnAccessors(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{Subprotocols: []string{"v2.chat", "v1.chat"}})
	p := newProbe(t)
	type seen struct {
		ID, Token, Query, Cookie, Route, Sub string
		Connected, RemoteOK, AtOK            bool
	}
	p.onOpen = func(ctx context.Context, c *framework.Conn) error {
		ck, _ := c.Request().Cookie("session")
		var cookie string
		if ck != nil {
			cookie = ck.Value
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr())
		return c.SendJSON(ctx, seen{
			ID: fmt.Sprint(c.Params().Int("id")), Token: c.Request().Header.Get("X-Token"),
			Query: c.Request().URL.Query().Get("q"), Cookie: cookie, Route: c.Route(), Sub: c.Subprotocol(),
			Connected: c.Connected(), RemoteOK: host == "127.0.0.1",
			AtOK: !c.ConnectedAt().IsZero() && time.Since(c.ConnectedAt()) < time.Minute,
		})
	}
	var afterClose atomic.Value
	p.onClose = func(c *framework.Conn, st framework.CloseStatus) {
		afterClose.Store(fmt.Sprintf("%d|%q|%v|%v", st.Code, st.Reason, c.Connected(), c.Context().Err()))
	}
	h := http.Header{}
	h.Set("X-Token", "t0k")
	h.Set("Cookie", "session=s3cr3t")
	c, resp, err := srv.DialOptions(t, "/probe/42?q=hello&"+p.query(), &websocket.DialOptions{
		HTTPHeader: h, Subprotocols: []string{"v1.chat", "other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "v1.chat" {
		t.Errorf("got subprotocol %q, want v1.chat", got)
	}
	conn := p.waitOpen(t)
	var got seen
	c.ReadJSON(&got)
	want := seen{ID: "42", Token: "t0k", Query: "hello", Cookie: "s3cr3t", Route: "/probe/{id:int}", Sub: "v1.chat",
		Connected: true, RemoteOK: true, AtOK: true}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if !conn.Connected() {
		t.Errorf("open conn: Connected() = false, want true")
	}
	_ = c.Conn().Close(4005, "client bye")
	p.waitClose(t)
	if got, want := afterClose.Load(), `4005|"client bye"|false|context canceled`; got != want {
		t.Errorf("in OnClose: got %v, want %v", got, want)
	}
	if conn.Connected() {
		t.Errorf("after close: Connected() = true, want false")
	}
	if conn.Context().Err() == nil {
		t.Errorf("the connection's context is not cancelled after the close")
	}
	if err := conn.SendText(context.Background(), "late"); !errors.Is(err, framework.ErrClosed) {
		t.Errorf("SendText after close: got %v, want ErrClosed", err)
	}
	if err := conn.Close(1000, ""); err != nil {
		t.Errorf("Close after close: got %v, want nil", err)
	}
}

func TestSubprotocolNone(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{Subprotocols: []string{"v2.chat"}})
	for _, offered := range [][]string{nil, {"unknown"}} {
		c, resp, err := srv.DialOptions(t, "/echo", &websocket.DialOptions{Subprotocols: offered})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "" {
			t.Errorf("offered %q: got subprotocol %q, want none", offered, got)
		}
		c.SendText("x")
		c.ExpectText("x")
		c.Close()
	}
}

// Eight goroutines of one connection send 200 messages each at once: every
// message arrives whole, in each goroutine's order.
func TestConcurrentSenders(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	const senders, each = 8, 200
	p.onOpen = func(ctx context.Context, c *framework.Conn) error {
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					pad := strings.Repeat(string(rune('a'+g)), (i*37)%3000)
					var err error
					switch i % 3 {
					case 0:
						err = c.SendText(ctx, fmt.Sprintf("%d %d %s", g, i, pad))
					case 1:
						err = c.SendBinary(ctx, fmt.Appendf(nil, "%d %d %s", g, i, pad))
					default:
						err = c.SendJSON(ctx, map[string]any{"g": g, "i": i, "pad": pad})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	c := srv.Dial(t, p.path("/probe"))
	next := make([]int, senders)
	for range senders * each {
		typ, b := c.Read()
		var g, i int
		var pad string
		if b[0] == '{' {
			var m struct {
				G, I int
				Pad  string
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("bad JSON %s: %v", clip(b), err)
			}
			g, i, pad = m.G, m.I, m.Pad
		} else if _, err := fmt.Sscanf(string(b), "%d %d %s", &g, &i, &pad); err != nil && len(b) > 6 {
			t.Fatalf("bad message %s: %v", clip(b), err)
		} else if err != nil {
			_, _ = fmt.Sscanf(string(b), "%d %d", &g, &i)
		}
		wantType := []websocket.MessageType{websocket.MessageText, websocket.MessageBinary, websocket.MessageText}[i%3]
		if g < 0 || g >= senders || i != next[g] || typ != wantType {
			t.Fatalf("got %v message %s, want %v message %d of sender %d", typ, clip(b), wantType, next[g], g)
		}
		if wantPad := strings.Repeat(string(rune('a'+g)), (i*37)%3000); pad != wantPad {
			t.Fatalf("message %d of sender %d is damaged: %s", i, g, clip(b))
		}
		next[g]++
	}
	c.Close()
	if st := p.waitClose(t); st.Code != 1000 {
		t.Errorf("OnClose got %v, want 1000", st)
	}
}

func TestShutdownClosesEveryConnection(t *testing.T) {
	// Not parallel: goleak.VerifyNone looks at every goroutine.
	ignore := goleak.IgnoreCurrent()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	const n = 50
	codes := make(chan websocket.StatusCode, n)
	var readers sync.WaitGroup
	for range n {
		c, _, err := srv.DialOptions(t, p.path("/probe"), nil)
		if err != nil {
			t.Fatal(err)
		}
		p.waitOpen(t)
		readers.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
			defer cancel()
			_, _, err := c.Conn().Read(ctx)
			codes <- websocket.StatusCode(websocket.CloseStatus(err))
		})
	}
	raw := dialRaw(t, srv.Addr, p.path("/probe"))
	p.waitOpen(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*rawTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	if code := raw.expectClose(websocket.StatusGoingAway); code != "server shutting down" {
		t.Errorf("got reason %q, want \"server shutting down\"", code)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	readers.Wait()
	close(codes)
	for code := range codes {
		if code != websocket.StatusGoingAway {
			t.Errorf("a client got close %v, want 1001", code)
		}
	}
	if got := len(p.closed); got != n+1 {
		t.Fatalf("OnClose ran %d times, want %d", got, n+1)
	}
	for range n + 1 {
		if st := <-p.closed; st.Code != websocket.StatusGoingAway || st.Cause != framework.CauseShutdown {
			t.Fatalf("OnClose got %v, want 1001 (server shutdown)", st)
		}
	}
	// Accepting has stopped.
	if nc, err := net.DialTimeout("tcp", srv.Addr, rawTimeout); err == nil {
		nc.Close()
		t.Errorf("the server still accepts connections after Shutdown")
	}
	goleak.VerifyNone(t, ignore)
}

func TestShutdownContextExpires(t *testing.T) {
	// Not parallel: goleak.VerifyNone looks at every goroutine.
	ignore := goleak.IgnoreCurrent()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	const n = 6
	for i := range n {
		c := dialRaw(t, srv.Addr, p.path("/probe"))
		p.waitOpen(t)
		if i%2 == 1 {
			// Answers the close frame but never hangs up: the server
			// lingers until Shutdown's context cuts it short.
			go func() {
				for {
					f, err := c.readFrame()
					if err != nil {
						return
					}
					if f.op == opClose {
						_, _ = c.nc.Write(encodeFrame(rawFrame{fin: true, op: opClose, payload: f.payload}, false))
					}
				}
			}()
		}
		// The others never read and never answer the close.
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v, its context expired at 300ms", d)
	}
	if got := len(p.closed); got != n {
		t.Fatalf("OnClose ran %d times before Shutdown returned, want %d", got, n)
	}
	for range n {
		if st := <-p.closed; st.Cause != framework.CauseShutdown {
			t.Errorf("OnClose got %v, want cause server shutdown", st)
		}
	}
	goleak.VerifyNone(t, ignore)
}

// A handshake that arrives during Shutdown gets 503 or a closed
// connection, never an upgrade.
func TestShutdownRefusesNewConnections(t *testing.T) {
	t.Parallel()
	srv := framework.NewServer(framework.Options{Logger: (&logBuffer{}).logger()})
	if err := srv.Register(testBP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close(); <-done }()
	resp, nc, _ := rawRequest(t, ln.Addr().String(), upgradeRequest(ln.Addr().String(), "/echo"))
	defer nc.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got status %d, want 503", resp.StatusCode)
	}
}

// TestServeStopsDespiteUnusedSockets: a socket that never sends a request
// (browsers open one ahead of need) does not hold up Serve's shutdown;
// net/http alone would wait five seconds for it. The bound below is that
// behaviour's, not a speed target.
func TestServeStopsDespiteUnusedSockets(t *testing.T) {
	t.Parallel()
	srv := framework.NewServer(quietOptions(framework.Options{}))
	if err := srv.Register(testBP); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	unused, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer unused.Close()
	// A WebSocket dialled after it is served after it was accepted.
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, framework.ErrServerClosed) && err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve still waits for a socket that never sent a request")
	}
	_ = unused.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := unused.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the unused socket is still open: %v", err)
	}
}
