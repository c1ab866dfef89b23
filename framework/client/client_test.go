package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/history"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// world is what the servers of one test share across restarts: how many
// times each "count" event came, and the history store.
type world struct {
	mu      sync.Mutex
	counts  map[string]int
	refused map[string]bool // rooms OnJoin refuses, besides "secret"
	history history.Config  // none unless set by withHistory
}

func newWorld() *world { return &world{counts: map[string]int{}, refused: map[string]bool{}} }

func (w *world) refuse(room string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refused[room] = true
}

func (w *world) isRefused(room string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return room == "secret" || w.refused[room]
}

func (w *world) add(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[key]++
}

func (w *world) count(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[key]
}

var quiet = slog.New(slog.DiscardHandler)

// fast are options for tests: short waits, quiet logs.
func fast() *client.Options {
	return &client.Options{MinDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		Timeout: 2 * time.Second, Logger: quiet}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client to the events route of s and closes it with the
// test.
func dial(t *testing.T, s *server, opts *client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(testCtx(t), s.url("/ev"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// states returns a channel of the client's changes of state.
func states(c *client.Client) <-chan client.State {
	ch := make(chan client.State, 100)
	c.OnState(func(s client.State, err error) {
		select {
		case ch <- s:
		default:
		}
	})
	return ch
}

// waitState waits for the state want, skipping others.
func waitState(t *testing.T, ch <-chan client.State, want client.State) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case s := <-ch:
			if s == want {
				return
			}
		case <-timeout:
			t.Fatalf("state %v never came", want)
		}
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv returns a handler that sends its data, as a string, to a channel.
func recv() (func(json.RawMessage), <-chan string) {
	ch := make(chan string, 100)
	return func(data json.RawMessage) { ch <- string(data) }, ch
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
		return ""
	}
}

func TestEmitAndRequest(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, "127.0.0.1:0")
	c := dial(t, s, fast())
	var out struct{ A int }
	if err := c.Request(testCtx(t), "echo", map[string]int{"a": 7}, &out); err != nil || out.A != 7 {
		t.Fatalf("echo: %v, %+v", err, out)
	}
	for range 3 {
		if err := c.Emit(testCtx(t), "count", 1); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 counts", func() bool { return w.count("1") == 3 })
}

func TestErrorReply(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := dial(t, s, fast())
	err := c.Request(testCtx(t), "fail", map[string]string{"name": "ada"}, nil)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "taken" || e.Field != "name" || e.Event != "fail" {
		t.Fatalf("got %#v", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	opts := fast()
	opts.Timeout = 100 * time.Millisecond
	c := dial(t, s, opts)
	start := time.Now()
	if err := c.Request(context.Background(), "never", nil, nil); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("Options.Timeout: got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Request(ctx, "never", nil, nil)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "timeout" {
		t.Fatalf("ctx deadline: got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	// The connection still works.
	if err := c.Request(testCtx(t), "echo", 1, nil); err != nil {
		t.Fatal(err)
	}
}

func TestServerRequest(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := client.New(s.url("/ev?ask=1"), fast())
	defer c.Close()
	c.Handle("double", func(ctx context.Context, data json.RawMessage) (any, error) {
		var n int
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, err
		}
		switch n {
		case 0:
			return nil, &client.Error{Code: "zero", Message: "no zeros", Field: "n"}
		case 1:
			return nil, errors.New("secret detail")
		}
		return n * 2, nil
	})
	on, answers := recv()
	c.On("answer", on)
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := next(t, answers); got != "42" {
		t.Errorf("request from OnOpen: answer %s", got)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{
		{5, "10"},
		{0, `"zero"`},
		{1, `"internal"`},
	} {
		if err := c.Emit(testCtx(t), "ask", tc.n); err != nil {
			t.Fatal(err)
		}
		if got := next(t, answers); !strings.Contains(got, tc.want) {
			t.Errorf("ask %d: answer %s, want %s in it", tc.n, got, tc.want)
		}
	}
}

func TestPlainMessages(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := dial(t, s, fast())
	onText, texts := recv()
	onBin, bins := recv()
	c.On("message", onText)
	c.On("binary", onBin)
	if err := c.Emit(testCtx(t), "plain", nil); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := json.Unmarshal([]byte(next(t, texts)), &text); err != nil || text != "hello, plain" {
		t.Errorf("message: %q, %v", text, err)
	}
	var b []byte
	if err := json.Unmarshal([]byte(next(t, bins)), &b); err != nil || string(b) != "\x01\x02\x03" {
		t.Errorf("binary: %v, %v", b, err)
	}
}

func TestRejoinAfterRestart(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, "127.0.0.1:0")
	c := dial(t, s, fast())
	st := states(c)
	on, said := recv()
	c.On("said", on)
	onErr, errs := recv()
	c.On("error", onErr)
	ctx := testCtx(t)
	for _, room := range []string{"lobby", "old", "later"} {
		if err := c.Join(ctx, room); err != nil {
			t.Fatal(err)
		}
	}
	var e *client.Error
	if err := c.Join(ctx, "secret"); !errors.As(err, &e) || e.Code != "forbidden" {
		t.Fatalf("join secret: %v", err)
	}
	if err := c.Leave(ctx, "old"); err != nil {
		t.Fatal(err)
	}

	s.stop()
	waitState(t, st, client.Disconnected)
	w.refuse("later") // joined before the restart, refused after it
	s = startServer(t, w, s.addr)
	waitState(t, st, client.Connected)
	if err := json.Unmarshal([]byte(next(t, errs)), &e); err != nil || e.Code != "forbidden" || e.Event != "nows.join" {
		t.Errorf("refused rejoin: %+v, %v", e, err)
	}

	other := dial(t, s, fast())
	for _, room := range []string{"lobby", "old", "later"} {
		if err := other.Emit(ctx, "shout", map[string]string{"room": room, "text": "to " + room}); err != nil {
			t.Fatal(err)
		}
	}
	if got := next(t, said); got != `"to lobby"` {
		t.Errorf("after the restart, got %s", got)
	}
	select {
	case got := <-said:
		t.Errorf("left room still joined: got %s", got)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestBufferedEmitsOnce(t *testing.T) {
	w := newWorld()
	s := startServer(t, w, "127.0.0.1:0")
	opts := fast()
	opts.BufferSize = 6
	c := dial(t, s, opts)
	st := states(c)
	s.stop()
	waitState(t, st, client.Disconnected)
	ctx := testCtx(t)
	for i := range 5 {
		if err := c.Emit(ctx, "count", i); err != nil {
			t.Fatal(err)
		}
	}
	var out int
	done := make(chan error, 1)
	go func() { done <- c.Request(ctx, "echo", 7, &out) }() // buffered too
	time.Sleep(50 * time.Millisecond)
	if err := c.Emit(ctx, "count", 99); !errors.Is(err, client.ErrBufferFull) {
		t.Fatalf("7th message: %v", err)
	}
	s = startServer(t, w, s.addr)
	if err := <-done; err != nil || out != 7 {
		t.Fatalf("buffered request: %v, %d", err, out)
	}
	eventually(t, "the buffered emits", func() bool { return w.count("4") == 1 })
	time.Sleep(100 * time.Millisecond)
	for i := range 5 {
		if n := w.count(string(rune('0' + i))); n != 1 {
			t.Errorf("count %d came %d times", i, n)
		}
	}
}

func TestNoReconnect(t *testing.T) {
	for _, tc := range []struct {
		code  int
		retry bool
	}{
		{1008, false},
		{1003, false},
		{4001, false}, // in NoRetryCodes
		{4002, true},
		{1011, true},
		{1001, true},
	} {
		t.Run(websocket.StatusCode(tc.code).String(), func(t *testing.T) {
			s := startServer(t, newWorld(), "127.0.0.1:0")
			opts := fast()
			opts.NoRetryCodes = []websocket.StatusCode{4001}
			c := dial(t, s, opts)
			st := states(c)
			if err := c.Emit(testCtx(t), "close", tc.code); err != nil {
				t.Fatal(err)
			}
			waitState(t, st, client.Disconnected)
			if !tc.retry {
				waitState(t, st, client.Closed)
				if err := c.Emit(testCtx(t), "count", 1); !errors.Is(err, client.ErrClosed) {
					t.Errorf("emit after giving up: %v", err)
				}
				return
			}
			waitState(t, st, client.Connected)
			if err := c.Request(testCtx(t), "echo", 1, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestInFlightDisconnected(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := dial(t, s, fast())
	done := make(chan error, 1)
	go func() { done <- c.Request(testCtx(t), "never", nil, nil) }()
	time.Sleep(50 * time.Millisecond) // written
	s.stop()
	select {
	case err := <-done:
		var e *client.Error
		if !errors.Is(err, client.ErrDisconnected) || !errors.As(err, &e) || e.Code != "disconnected" {
			t.Fatalf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still waiting")
	}
}

func TestDialErrors(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "ws://" + ln.Addr().String() + "/ev"
	ln.Close()
	for name, url := range map[string]string{
		"bad url":     "http//nope",
		"refused":     refused,
		"status":      s.url("/missing"),
		"subprotocol": s.url("/plain"),
	} {
		c, err := client.Dial(testCtx(t), url, fast())
		if err == nil {
			c.Close()
			t.Errorf("%s: no error", name)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c, err := client.Dial(testCtx(t), s.url("/ev"), fast())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Join(testCtx(t), "lobby"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Request(context.Background(), "never", nil, nil) }()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, client.ErrClosed) {
		t.Errorf("request waiting at Close: %v", err)
	}
	if err := c.Emit(testCtx(t), "count", 1); !errors.Is(err, client.ErrClosed) {
		t.Errorf("emit after Close: %v", err)
	}
	s.stop()
	goleak.VerifyNone(t, before)

	// Closing while reconnecting ends the attempts as well.
	s = startServer(t, newWorld(), "127.0.0.1:0")
	c, err = client.Dial(testCtx(t), s.url("/ev"), fast())
	if err != nil {
		t.Fatal(err)
	}
	st := states(c)
	s.stop()
	waitState(t, st, client.Reconnecting)
	c.Close()
	goleak.VerifyNone(t, before)
}

// TestNoServerDependency: a Go client must not drag the server in. It may
// import framework/history (standard library only) for the positions the
// protocol carries.
func TestNoServerDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "github.com/nowebsocket/nows/framework/client",
			pkg == "github.com/nowebsocket/nows/internal/wire",
			pkg == "github.com/nowebsocket/nows/framework/history",
			strings.HasPrefix(pkg, "github.com/coder/websocket"):
		default:
			t.Errorf("framework/client depends on %s", pkg)
		}
	}
}

// TestServerErrorsAndFlood: the server's error about a failed event comes
// to On("error"); a client that keeps sending bad messages is closed with
// 1008, and does not come back.
func TestServerErrorsAndFlood(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := dial(t, s, fast())
	closed := make(chan error, 1)
	c.OnState(func(s client.State, err error) {
		if s == client.Closed {
			closed <- err
		}
	})
	on, errs := recv()
	c.On("error", on)
	ctx := testCtx(t)
	if err := c.Emit(ctx, "no.such.event", nil); err != nil {
		t.Fatal(err)
	}
	var e client.Error
	if err := json.Unmarshal([]byte(next(t, errs)), &e); err != nil || e.Code != "unknown_event" || e.Event != "no.such.event" {
		t.Fatalf("error event: %+v, %v", e, err)
	}
	for range 20 {
		if err := c.Emit(ctx, "no.such.event", nil); err != nil {
			break
		}
	}
	select {
	case err := <-closed:
		if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
			t.Errorf("closed with %v (%v), want 1008", code, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client was not closed")
	}
	if err := c.Request(ctx, "echo", 1, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("request after the 1008: %v", err)
	}
}

// TestSlowHandler: handlers run one at a time, in order, and a reply is
// not held up by a handler that is still running.
func TestSlowHandler(t *testing.T) {
	s := startServer(t, newWorld(), "127.0.0.1:0")
	c := dial(t, s, fast())
	ctx := testCtx(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	c.On("said", func(data json.RawMessage) {
		<-release
		mu.Lock()
		got = append(got, string(data))
		mu.Unlock()
	})
	if err := c.Join(ctx, "me"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"1", "2", "3"} {
		if err := c.Emit(ctx, "shout", map[string]string{"room": "me", "text": text}); err != nil {
			t.Fatal(err)
		}
	}
	var out int
	if err := c.Request(ctx, "echo", 5, &out); err != nil || out != 5 {
		t.Fatalf("request while a handler blocks: %v, %d", err, out)
	}
	close(release)
	eventually(t, "the three events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 3
	})
	if strings.Join(got, ",") != `"1","2","3"` {
		t.Errorf("order: %v", got)
	}
}
