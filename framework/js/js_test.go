package js_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/history"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// nodeTimeout bounds one node test file, server restarts included.
const nodeTimeout = 90 * time.Second

// historyWindow is the window of the rooms "h.*": the node tests send
// more than Size messages to step out of it.
var historyWindow = history.Limits{Size: 20, TTL: time.Hour}

// TestNodeClient runs each test/*.test.mjs with Node's test runner against
// a real nows server of its own (the routes of testBlueprint; the rooms
// "h.*" with history, in a memory store kept across restarts), with a
// control endpoint through which the node tests restart the server, close
// its connections and broadcast to rooms. Without node the test skips, or
// fails when CI=true.
func TestNodeClient(t *testing.T) {
	node := findNode(t)
	files, err := filepath.Glob(filepath.Join("test", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test/*.test.mjs (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".test.mjs"), func(t *testing.T) {
			runNodeFile(t, node, file)
		})
	}
}

// findNode returns the path of node, or skips (fails when CI=true).
func findNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		msg := "node is not on $PATH (install Node 20 or later: apt-get install -y nodejs)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: the nows.js tests must run in CI", msg)
		}
		t.Skip(msg)
	}
	return node
}

// runNodeFile starts a server and its control endpoint, runs node on file
// and fails with node's output when node fails.
func runNodeFile(t *testing.T, node, file string) {
	ts := startTestServer(t)
	ctrl := httptest.NewServer(ts.controlMux())
	defer ctrl.Close()
	defer ts.stopForGood()
	defer ts.closePublisher()

	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--test", "--test-reporter=spec", file)
	cmd.Env = append(os.Environ(), "NOWS_TEST_ADDR="+ts.addr, "NOWS_TEST_CONTROL="+ctrl.URL, "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", file, err, out)
	}
	t.Logf("node --test %s:\n%s", file, out)
}

// testServer is a nows server that the control endpoint restarts on the
// same port, with what its routes saw.
type testServer struct {
	t    *testing.T
	addr string // host:port, the same after every restart

	mu      sync.Mutex
	srv     *framework.Server
	cancel  context.CancelFunc
	served  chan struct{} // closed when Serve returned
	ln      net.Listener
	conns   map[*framework.Conn]bool
	counts  map[string][]int
	stopped bool
	store   *history.Memory // the rooms' history, kept across restarts
	pub     *framework.Hub  // a Publisher on store: sends while the server is down too

	slow     atomic.Int32   // slow requests being handled
	restarts sync.WaitGroup // restarts under way
}

func startTestServer(t *testing.T) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, addr: ln.Addr().String(), conns: map[*framework.Conn]bool{}, counts: map[string][]int{}}
	ts.newStore()
	if err := ts.serve(ln); err != nil {
		t.Fatal(err)
	}
	return ts
}

// history returns the rooms with history, in the current store.
func (ts *testServer) history() history.Config {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return history.Config{Store: ts.store, Rooms: map[string]history.Limits{"h.*": historyWindow}}
}

// newStore gives the rooms a new, empty history (a new epoch), and a
// Publisher on it.
func (ts *testServer) newStore() {
	ts.closePublisher()
	store := history.NewMemory()
	pub := framework.NewHub(framework.HubOptions{History: history.Config{Store: store, Rooms: map[string]history.Limits{"h.*": historyWindow}}})
	ts.mu.Lock()
	ts.store, ts.pub = store, pub
	ts.mu.Unlock()
}

func (ts *testServer) closePublisher() {
	ts.mu.Lock()
	pub := ts.pub
	ts.pub = nil
	ts.mu.Unlock()
	if pub != nil {
		_ = pub.Close()
	}
}

// serve starts a new server on ln.
func (ts *testServer) serve(ln net.Listener) error {
	srv := framework.NewServer(framework.Options{
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		ShutdownTimeout: 2 * time.Second,
		Hub:             framework.HubOptions{History: ts.history()},
	})
	if err := srv.Register(testBlueprint(ts)); err != nil {
		_ = ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ctx, ln)
	}()
	ts.mu.Lock()
	ts.srv, ts.ln, ts.cancel, ts.served = srv, ln, cancel, served
	ts.mu.Unlock()
	return nil
}

// stop stops listening first (reconnects are refused), closes every
// connection with code, then shuts the server down.
func (ts *testServer) stop(code websocket.StatusCode) {
	ts.mu.Lock()
	srv, ln, cancel, served := ts.srv, ts.ln, ts.cancel, ts.served
	ts.srv = nil
	ts.mu.Unlock()
	if srv == nil {
		return
	}
	_ = ln.Close()
	ts.closeConns(code, "", "server restarting")
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, framework.ErrServerClosed) {
		ts.t.Errorf("shutdown: %v", err)
	}
	cancel()
	<-served
}

// restart stops the server now and listens again on the same port after
// down; fresh gives it a new history store, as a node that lost its
// memory store does.
func (ts *testServer) restart(down time.Duration, fresh bool) {
	ts.stop(websocket.StatusServiceRestart)
	if fresh {
		ts.newStore()
	}
	ts.restarts.Go(func() {
		time.Sleep(down)
		ts.mu.Lock()
		stopped := ts.stopped
		ts.mu.Unlock()
		if stopped {
			return
		}
		ln, err := net.Listen("tcp", ts.addr)
		if err == nil {
			err = ts.serve(ln)
		}
		if err != nil {
			ts.t.Errorf("listen again on %s: %v", ts.addr, err)
		}
	})
}

func (ts *testServer) stopForGood() {
	ts.mu.Lock()
	ts.stopped = true
	ts.mu.Unlock()
	ts.restarts.Wait()
	ts.stop(websocket.StatusGoingAway)
}

// closeConns closes the connections on path ("": all) with code, and
// returns how many.
func (ts *testServer) closeConns(code websocket.StatusCode, path, reason string) int {
	conns := ts.connsOn(path)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close(code, reason) })
	}
	wg.Wait()
	return len(conns)
}

// dropConns cuts the connections on path ("": all) without a close
// frame, as a lost network does, and returns how many.
func (ts *testServer) dropConns(path string) int {
	conns := ts.connsOn(path)
	for _, c := range conns {
		_ = c.Unwrap().CloseNow()
	}
	return len(conns)
}

func (ts *testServer) connsOn(path string) []*framework.Conn {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var cs []*framework.Conn
	for c := range ts.conns {
		if path == "" || c.Request().URL.Path == path {
			cs = append(cs, c)
		}
	}
	return cs
}

// controlMux serves the node tests' requests:
//
//	POST /restart?down=MS        restart the server, down for MS ms
//	POST /restart?down=MS&fresh=1  the same, with a new history store
//	POST /send?room=R&from=A&to=B&kind=K
//	                             broadcast A..B to room R through the
//	                             Publisher: K "event" (the default) sends
//	                             the event num {"n": i}, "text" the text
//	                             i, "binary" the bytes [i]
//	POST /close?code=N&path=P    close the connections on P (default all) with N
//	POST /close?code=drop&path=P cut them without a close frame
//	GET  /count?key=K            the n of the count events of key K, in order
//	GET  /conns?path=P           how many connections are open on P
//	GET  /slow                   how many slow requests are being handled
func (ts *testServer) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		down, err := strconv.Atoi(r.FormValue("down"))
		if err != nil || down < 0 || down > 5000 {
			http.Error(w, "down: want 0 to 5000 ms", http.StatusBadRequest)
			return
		}
		ts.restart(time.Duration(down)*time.Millisecond, r.FormValue("fresh") == "1")
		writeJSON(w, true)
	})
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		from, err1 := strconv.Atoi(r.FormValue("from"))
		to, err2 := strconv.Atoi(r.FormValue("to"))
		if err1 != nil || err2 != nil || from < 0 || to < from || to > 255 {
			http.Error(w, "from, to: want 0 <= from <= to <= 255", http.StatusBadRequest)
			return
		}
		if err := ts.send(r.Context(), r.FormValue("room"), r.FormValue("kind"), from, to); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, true)
	})
	mux.HandleFunc("POST /close", func(w http.ResponseWriter, r *http.Request) {
		path := r.FormValue("path")
		if r.FormValue("code") == "drop" {
			writeJSON(w, ts.dropConns(path))
			return
		}
		code, err := strconv.Atoi(r.FormValue("code"))
		if err != nil || code < 1000 || code > 4999 {
			http.Error(w, "code: want 1000 to 4999, or drop", http.StatusBadRequest)
			return
		}
		writeJSON(w, ts.closeConns(websocket.StatusCode(code), path, "closed by the test"))
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		got := append([]int{}, ts.counts[r.FormValue("key")]...)
		ts.mu.Unlock()
		writeJSON(w, got)
	})
	mux.HandleFunc("GET /conns", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, len(ts.connsOn(r.FormValue("path"))))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, ts.slow.Load())
	})
	return mux
}

// numMsg is the payload of the event num that /send broadcasts.
type numMsg struct {
	N int `json:"n"`
}

// send broadcasts from..to to room through the Publisher, each as kind
// says (see controlMux).
func (ts *testServer) send(ctx context.Context, room, kind string, from, to int) error {
	ts.mu.Lock()
	pub := ts.pub
	ts.mu.Unlock()
	for i := from; i <= to; i++ {
		var err error
		switch kind {
		case "", "event":
			err = events.Broadcast(ctx, pub, room, "num", numMsg{N: i})
		case "text":
			err = pub.Broadcast(ctx, room, framework.Text(strconv.Itoa(i)))
		case "binary":
			err = pub.Broadcast(ctx, room, framework.Binary([]byte{byte(i)}))
		default:
			return fmt.Errorf("kind %q: want event, text or binary", kind)
		}
		if err != nil {
			return fmt.Errorf("send %d to %s: %w", i, room, err)
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// testBlueprint holds the routes the node tests dial: /t/{scope}, an
// events route (the scope only names the test), and /plain, a plain route.
func testBlueprint(ts *testServer) *framework.Blueprint {
	newConn := func() *testConn { return &testConn{ts: ts} }
	return framework.NewBlueprint("",
		events.RouteFunc("/t/{scope}", newConn,
			events.Handle("echo", (*testConn).Echo),
			events.Handle("add", (*testConn).Add),
			events.Handle("fail", (*testConn).Fail),
			events.Handle("crash", (*testConn).Crash),
			events.Handle("slow", (*testConn).Slow),
			events.On("count", (*testConn).Count),
			events.Handle("count-request", (*testConn).CountRequest),
			events.Handle("ask", (*testConn).Ask),
			events.Handle("plain", (*testConn).Plain),
			events.Handle("bytes", (*testConn).Bytes),
			events.Handle("shout", (*testConn).Shout),
			events.Handle("whisper", (*testConn).Whisper),
			events.Handle("rooms", (*testConn).Rooms),
		),
		framework.Route[plainConn]("/plain"),
	)
}

// testConn is one connection of /t/{scope}.
type testConn struct{ ts *testServer }

type (
	echoMsg struct {
		Text string `json:"text"`
	}
	addIn struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	addOut struct {
		Sum int `json:"sum"`
	}
	slowIn struct {
		MS int `json:"ms"`
	}
	slowOut struct {
		Slept int `json:"slept"`
	}
	countIn struct {
		Key string `json:"key"`
		N   int    `json:"n"`
	}
	roomText struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}
	// askIn has the server request event from the client with data,
	// within Timeout ms (default 2000).
	askIn struct {
		Event   string          `json:"event"`
		Data    json.RawMessage `json:"data"`
		Timeout int             `json:"timeout"`
	}
	// askOut is the client's reply, or its error.
	askOut struct {
		Reply   json.RawMessage `json:"reply,omitempty"`
		Code    string          `json:"code,omitempty"`
		Message string          `json:"message,omitempty"`
		Field   string          `json:"field,omitempty"`
	}
	none struct{}
)

// Validate refuses a negative a.
func (in addIn) Validate() error {
	if in.A < 0 {
		return errors.New("a must not be negative")
	}
	return nil
}

func (tc *testConn) OnOpen(ctx context.Context, c *framework.Conn) error {
	tc.ts.mu.Lock()
	tc.ts.conns[c] = true
	tc.ts.mu.Unlock()
	return nil
}

func (tc *testConn) OnClose(c *framework.Conn, _ framework.CloseStatus) {
	tc.ts.mu.Lock()
	delete(tc.ts.conns, c)
	tc.ts.mu.Unlock()
}

// OnJoin accepts every room but those whose name starts with "secret".
func (tc *testConn) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if strings.HasPrefix(room, "secret") {
		return errors.New("secret rooms are closed")
	}
	return nil
}

func (tc *testConn) Echo(ctx context.Context, c *framework.Conn, in echoMsg) (echoMsg, error) {
	return in, nil
}

func (tc *testConn) Add(ctx context.Context, c *framework.Conn, in addIn) (addOut, error) {
	return addOut{Sum: in.A + in.B}, nil
}

func (tc *testConn) Fail(ctx context.Context, c *framework.Conn, in none) (none, error) {
	return none{}, &events.Error{Code: "out_of_stock", Message: "no more", Field: "item"}
}

func (tc *testConn) Crash(ctx context.Context, c *framework.Conn, in none) (none, error) {
	return none{}, errors.New("a secret detail the client must not see")
}

// Slow answers after MS ms (at most 10 s), or not at all when the
// connection ends first.
func (tc *testConn) Slow(ctx context.Context, c *framework.Conn, in slowIn) (slowOut, error) {
	tc.ts.slow.Add(1)
	defer tc.ts.slow.Add(-1)
	select {
	case <-time.After(min(time.Duration(in.MS)*time.Millisecond, 10*time.Second)):
		return slowOut{Slept: in.MS}, nil
	case <-ctx.Done():
		return slowOut{}, ctx.Err()
	}
}

func (tc *testConn) Count(ctx context.Context, c *framework.Conn, in countIn) error {
	tc.ts.mu.Lock()
	tc.ts.counts[in.Key] = append(tc.ts.counts[in.Key], in.N)
	tc.ts.mu.Unlock()
	return nil
}

func (tc *testConn) CountRequest(ctx context.Context, c *framework.Conn, in countIn) (none, error) {
	return none{}, tc.Count(ctx, c, in)
}

// Ask sends the client a request and returns what came back.
func (tc *testConn) Ask(ctx context.Context, c *framework.Conn, in askIn) (askOut, error) {
	timeout := 2 * time.Second
	if in.Timeout > 0 {
		timeout = time.Duration(in.Timeout) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var reply json.RawMessage
	err := events.Request(ctx, c, in.Event, in.Data, &reply)
	var werr *events.Error
	switch {
	case err == nil:
		return askOut{Reply: reply}, nil
	case errors.As(err, &werr):
		return askOut{Code: werr.Code, Message: werr.Message, Field: werr.Field}, nil
	case errors.Is(err, events.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return askOut{Code: "timeout"}, nil
	}
	return askOut{}, fmt.Errorf("ask %s: %w", in.Event, err)
}

// Plain sends the text as a plain message, not an envelope.
func (tc *testConn) Plain(ctx context.Context, c *framework.Conn, in echoMsg) (none, error) {
	return none{}, c.SendText(ctx, in.Text)
}

// Bytes sends the text's bytes as a binary message.
func (tc *testConn) Bytes(ctx context.Context, c *framework.Conn, in echoMsg) (none, error) {
	return none{}, c.SendBinary(ctx, []byte(in.Text))
}

// Shout broadcasts the event room.message to the room.
func (tc *testConn) Shout(ctx context.Context, c *framework.Conn, in roomText) (none, error) {
	return none{}, events.Broadcast(ctx, c.Hub(), in.Room, "room.message", in)
}

// Whisper broadcasts the event room.message to the room but the sender.
func (tc *testConn) Whisper(ctx context.Context, c *framework.Conn, in roomText) (none, error) {
	return none{}, events.BroadcastOthers(ctx, c, in.Room, "room.message", in)
}

// Rooms returns the rooms the server has the connection in.
func (tc *testConn) Rooms(ctx context.Context, c *framework.Conn, in none) ([]string, error) {
	rooms := append([]string{}, c.Rooms()...)
	slices.Sort(rooms)
	return rooms, nil
}

// plainConn is a plain route: it echoes text.
type plainConn struct{}

func (plainConn) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}
