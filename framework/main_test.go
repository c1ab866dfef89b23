package framework_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testBP holds the routes the integration tests dial.
var testBP = framework.NewBlueprint("",
	framework.Route[echoHandler]("/echo"),
	framework.Route[textOnlyHandler]("/text"),
	framework.Route[binaryOnlyHandler]("/binary"),
	framework.Route[probeHandler]("/probe"),
	framework.Route[probeHandler]("/probe/{id:int}"),
)

// echoHandler echoes every message.
type echoHandler struct{}

func (echoHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

func (echoHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return c.SendBinary(ctx, data)
}

// textOnlyHandler has no OnBinary.
type textOnlyHandler struct{}

func (textOnlyHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// binaryOnlyHandler has no OnMessage.
type binaryOnlyHandler struct{}

func (binaryOnlyHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return c.SendBinary(ctx, data)
}

// A probe records what the hooks of the connections that name it (with
// the query parameter "probe") saw, and lets a test choose what they do.
type probe struct {
	id string

	mu     sync.Mutex
	events map[*framework.Conn][]string

	opened  chan *framework.Conn       // every OnOpen
	closed  chan framework.CloseStatus // every OnClose
	overlap atomic.Bool                // two hooks of one connection ran at once
	perConn sync.Map                   // *framework.Conn → *atomic.Int32
	onOpen  func(ctx context.Context, c *framework.Conn) error
	onMsg   func(ctx context.Context, c *framework.Conn, text string) error
	onClose func(c *framework.Conn, st framework.CloseStatus)
}

// probes maps a probe's id to the probe, for the handlers to find theirs.
var (
	probes   sync.Map // id → *probe
	probeSeq atomic.Int64
)

// probeSize bounds the connections one probe can follow.
const probeSize = 256

// newProbe returns a probe and the query ("probe=N") that selects it.
func newProbe(t testing.TB) *probe {
	t.Helper()
	p := &probe{
		id:     strconv.FormatInt(probeSeq.Add(1), 10),
		events: make(map[*framework.Conn][]string),
		opened: make(chan *framework.Conn, probeSize),
		closed: make(chan framework.CloseStatus, probeSize),
	}
	probes.Store(p.id, p)
	t.Cleanup(func() { probes.Delete(p.id) })
	return p
}

// query returns the query string that selects the probe.
func (p *probe) query() string { return "probe=" + p.id }

// path returns path with the probe's query.
func (p *probe) path(path string) string { return path + "?" + p.query() }

// waitClose returns the status of the next OnClose, within rawTimeout.
func (p *probe) waitClose(t testing.TB) framework.CloseStatus {
	t.Helper()
	select {
	case st := <-p.closed:
		return st
	case <-time.After(rawTimeout):
		t.Fatalf("OnClose did not run within %v", rawTimeout)
		return framework.CloseStatus{}
	}
}

// waitOpen returns the Conn of the next OnOpen, within rawTimeout.
func (p *probe) waitOpen(t testing.TB) *framework.Conn {
	t.Helper()
	select {
	case c := <-p.opened:
		return c
	case <-time.After(rawTimeout):
		t.Fatalf("OnOpen did not run within %v", rawTimeout)
		return nil
	}
}

// record notes a hook's event for c.
func (p *probe) record(c *framework.Conn, ev string) {
	p.mu.Lock()
	p.events[c] = append(p.events[c], ev)
	p.mu.Unlock()
}

// eventsOf returns the events recorded for c.
func (p *probe) eventsOf(c *framework.Conn) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events[c]...)
}

// enter and leave bracket every hook to detect hooks of one connection
// running at the same time.
func (p *probe) enter(c *framework.Conn) func() {
	v, _ := p.perConn.LoadOrStore(c, new(atomic.Int32))
	n := v.(*atomic.Int32)
	if n.Add(1) > 1 {
		p.overlap.Store(true)
	}
	return func() { n.Add(-1) }
}

// probeHandler is a handler with every hook, driven by its probe. Messages
// are commands: "error", "panic", "closeerror", "close" and "ctx" do what
// they say; anything else is echoed.
type probeHandler struct {
	p        *probe
	shook    bool
	fromHand string
}

func (h *probeHandler) OnHandshake(r *http.Request) error {
	v, ok := probes.Load(r.URL.Query().Get("probe"))
	if !ok {
		return nil
	}
	h.p = v.(*probe)
	h.shook = true
	h.fromHand = r.Header.Get("X-Token")
	if r.URL.Query().Get("reject") != "" {
		return framework.Reject(401, "no token")
	}
	return nil
}

func (h *probeHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	if h.p == nil {
		return errors.New("no probe")
	}
	defer h.p.enter(c)()
	if h.shook {
		h.p.record(c, "handshake")
	}
	h.p.record(c, "open")
	h.p.opened <- c
	if h.p.onOpen != nil {
		return h.p.onOpen(ctx, c)
	}
	return nil
}

func (h *probeHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	defer h.p.enter(c)()
	h.p.record(c, "message:"+text)
	if h.p.onMsg != nil {
		return h.p.onMsg(ctx, c, text)
	}
	switch text {
	case "error":
		return errors.New("secret internal detail")
	case "panic":
		panic("secret panic detail")
	case "closeerror":
		return fmt.Errorf("wrapped: %w", websocket.CloseError{Code: 4001, Reason: "custom reason"})
	case "close":
		return c.Close(4002, "closed by app")
	}
	return c.SendText(ctx, text)
}

func (h *probeHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	defer h.p.enter(c)()
	h.p.record(c, fmt.Sprintf("binary:%d", len(data)))
	return c.SendBinary(ctx, data)
}

func (h *probeHandler) OnClose(c *framework.Conn, st framework.CloseStatus) {
	if h.p == nil {
		return
	}
	defer h.p.enter(c)()
	h.p.record(c, "close")
	if h.p.onClose != nil {
		h.p.onClose(c, st)
	}
	h.p.closed <- st
}

// serve starts a server with the test blueprint (and bps) on 127.0.0.1.
func serve(t testing.TB, opts framework.Options, bps ...*framework.Blueprint) *wstest.Server {
	t.Helper()
	return wstest.NewServerOptions(t, opts, append([]*framework.Blueprint{testBP}, bps...)...)
}

// logBuffer collects log output safely from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually polls cond every few milliseconds until it holds or the
// deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rawTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, rawTimeout)
		}
		<-tick.C
	}
}
