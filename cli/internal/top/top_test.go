package top

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// server, a connection, a timer).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeAdmin serves synthetic snapshots on 127.0.0.1: each request is one
// second later than the one before, and every counter grows by a fixed
// amount per second, so that the rates are known.
type fakeAdmin struct {
	mu      sync.Mutex
	n       int
	fail    map[int]int // request number → HTTP status to answer instead
	queries []string
	routes  int   // routes beyond the two fixed ones
	started int64 // Unix seconds; changing it is a restart
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/snapshot" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.n++
	n, status := f.n, f.fail[f.n]
	f.queries = append(f.queries, r.URL.RawQuery)
	extra, started := f.routes, f.started
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "synthetic failure", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(testSnapshot(n, extra, time.Unix(started, 0)))
}

// testSnapshot is the nth snapshot: 1,200 connections on /chat/{room},
// which receives 1,000 messages (64 kB) and sends 20,000 per second.
func testSnapshot(n, extraRoutes int, started time.Time) Snapshot {
	k := int64(n)
	s := Snapshot{
		Time:        time.Date(2026, 12, 1, 19, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second),
		Started:     started,
		Node:        "5b2f72bf1e04",
		Connections: 1234,
		Handshakes:  map[string]int64{"101": 1300, "403": 2, "404": 5},
		Routes: []Route{
			{Route: "/chat/{room}", Connections: 1200, Opened: 1250, Closed: 50,
				MessagesIn: 100_000 + 1000*k, MessagesOut: 2_000_000 + 20_000*k,
				BytesIn: 6_400_000 + 64_000*k, BytesOut: 128_000_000 + 1_280_000*k,
				Hooks: map[string]Hook{"OnMessage": {Count: 100_000, SumSeconds: 1.25}, "OnOpen": {Count: 1250, SumSeconds: 0.0125}}},
			{Route: "/echo", Connections: 34, Opened: 40, Closed: 6},
		},
		Closes:       []Close{{Code: 1000, Cause: "peer closed", Count: 40}, {Code: 1009, Cause: "message too big", Count: 1}},
		QueueDropped: 2 * k,
		Rooms: Rooms{Count: 10_000, Members: 100_000, Page: 1, PerPage: 10,
			Largest: []Room{{Room: "lobby", Members: 5000}, {Room: "r-17", Members: 120}}},
		Broker: Broker{Configured: true, OK: true, Published: 5000 + 10*k},
	}
	for i := range extraRoutes {
		s.Routes = append(s.Routes, Route{Route: fmt.Sprintf("/r/%02d", i), Connections: int64(i)})
	}
	return s
}

func startAdmin(t *testing.T, f *fakeAdmin) (string, *http.Client) {
	t.Helper()
	ts := httptest.NewServer(f)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
	})
	return ts.URL, &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func runTop(t *testing.T, cfg Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, cfg, &out)
	return out.String(), err
}

// lineMatching fails unless a line of out matches the regular expression
// (spaces in it stand for one or more spaces).
func lineMatching(t *testing.T, out, re string) {
	t.Helper()
	rx := regexp.MustCompile(`(?m)^` + strings.ReplaceAll(re, " ", " +") + `$`)
	if !rx.MatchString(out) {
		t.Errorf("no line matches %s in:\n%s", rx, out)
	}
}

func TestOnce(t *testing.T) {
	f := &fakeAdmin{started: time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC).Unix()}
	url, client := startAdmin(t, f)
	out, err := runTop(t, Config{URL: url, Once: true, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	lineMatching(t, out, `nows top `+regexp.QuoteMeta(url)+` · node 5b2f72bf1e04 · up 1h0m · 19:00:01 UTC`)
	lineMatching(t, out, `connections 1\.2k msgs/s in - out - bytes/s in - out - queue drops 2`)
	lineMatching(t, out, `handshakes 1\.3k accepted, 7 rejected \(403: 2, 404: 5\) broker ok, 5\.0k published, 0 publish errors`)
	lineMatching(t, out, `\(rates need two snapshots: run nows top without --once\)`)
	lineMatching(t, out, `ROUTE CONNS MSGS/S IN MSGS/S OUT BYTES/S IN BYTES/S OUT AVG HOOK`)
	lineMatching(t, out, `/chat/\{room\} 1\.2k - - - - 12µs`) // 1.2625 s / 101,250 calls
	lineMatching(t, out, `/echo 34 - - - - -`)
	lineMatching(t, out, `1000 peer closed 40 97\.6%`)
	lineMatching(t, out, `1009 message too big 1 2\.4%`)
	lineMatching(t, out, `rooms 10\.0k members 100k the 2 largest:`)
	lineMatching(t, out, `lobby 5\.0k 5\.0%`)
	if i, j := strings.Index(out, "/chat/{room}  "), strings.Index(out, "/echo  "); i < 0 || j < i {
		t.Errorf("routes not busiest first:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences in plain output: %q", out)
	}
	if len(f.queries) != 1 || f.queries[0] != "page=1&per_page=10" {
		t.Errorf("queries %q, want one page=1&per_page=10", f.queries)
	}
}

func TestRates(t *testing.T) {
	f := &fakeAdmin{}
	url, client := startAdmin(t, f)
	out, err := runTop(t, Config{URL: url, Interval: 10 * time.Millisecond, Frames: 3, Rooms: 2, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(out, "\nnows top ")
	if len(frames) != 3 {
		t.Fatalf("%d frames separated by a blank line, want 3:\n%s", len(frames), out)
	}
	if !strings.HasSuffix(frames[0], "\n") || strings.Contains(frames[0], "\n\n\n") {
		t.Errorf("frames not separated by exactly one blank line:\n%q", out)
	}
	lineMatching(t, frames[0], `\(rates from the next snapshot\)`)
	// Per second: 1,000 messages and 64 kB in, 20,000 and 1.28 MB out, 2
	// drops, 10 broker publishes.
	last := frames[2]
	lineMatching(t, last, `connections 1\.2k msgs/s in 1\.0k out 20\.0k bytes/s in 64\.0 kB out 1\.3 MB queue drops 6 \(2/s\)`)
	lineMatching(t, last, `/chat/\{room\} 1\.2k 1\.0k 20\.0k 64.0 kB 1\.3 MB 12µs`)
	lineMatching(t, last, `/echo 34 0 0 0 B 0 B -`)
	lineMatching(t, last, `handshakes .* broker ok, 5\.0k published \(10/s\), 0 publish errors`)
	if strings.Contains(last, "rates from") {
		t.Errorf("third frame still waits for rates:\n%s", last)
	}
	if f.queries[0] != "page=1&per_page=2" {
		t.Errorf("query %q, want page=1&per_page=2", f.queries[0])
	}
}

// TestRestart: a server that restarted has new counters: no rates across.
func TestRestart(t *testing.T) {
	prev, cur := testSnapshot(1, 0, time.Unix(100, 0)), testSnapshot(2, 0, time.Unix(100, 0))
	if computeRates(&prev, &cur) == nil {
		t.Fatal("no rates between two snapshots of the same server")
	}
	cur.Started = time.Unix(200, 0)
	if r := computeRates(&prev, &cur); r != nil {
		t.Errorf("rates %+v across a restart", r)
	}
	same := prev
	if r := computeRates(&prev, &same); r != nil {
		t.Errorf("rates %+v between snapshots of the same time", r)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, once := range []bool{true, false} {
		out, err := runTop(t, Config{URL: url, Once: once, Interval: 10 * time.Millisecond})
		want := "cannot reach the admin listener at " + url + ": connection refused: is the app running with --admin-addr (NOWS_ADMIN_ADDR)?"
		if err == nil || err.Error() != want {
			t.Errorf("once=%v: error %v, want %q", once, err, want)
		}
		if out != "" {
			t.Errorf("once=%v: printed %q before the error", once, out)
		}
	}
}

func TestNotTheAdminListener(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	_, err := runTop(t, Config{URL: ts.URL, Once: true, Client: &http.Client{Transport: tr}})
	want := "the admin listener at " + ts.URL + " answered GET /api/snapshot with 404 Not Found: 404 page not found: is this the app's admin address (--admin-addr, NOWS_ADMIN_ADDR), not its WebSocket address?"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }))
	defer bad.Close()
	_, err = runTop(t, Config{URL: bad.URL, Once: true, Client: &http.Client{Transport: tr}})
	if err == nil || !strings.Contains(err.Error(), "sent something that is not a snapshot") {
		t.Errorf("error %v, want not a snapshot", err)
	}
}

// TestOutage: after a good first snapshot, a failure is shown in place of
// a frame, and the next snapshot is shown again (without rates across the
// gap).
func TestOutage(t *testing.T) {
	f := &fakeAdmin{fail: map[int]int{2: http.StatusServiceUnavailable}}
	url, client := startAdmin(t, f)
	out, err := runTop(t, Config{URL: url, Interval: 10 * time.Millisecond, Frames: 4, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(out, "\nnows top ")
	if len(frames) != 4 {
		t.Fatalf("%d frames, want 4:\n%s", len(frames), out)
	}
	lineMatching(t, frames[1], `the admin listener at `+regexp.QuoteMeta(url)+` answered GET /api/snapshot with 503 Service Unavailable: synthetic failure`)
	lineMatching(t, frames[1], `retrying every 10ms`)
	lineMatching(t, frames[2], `\(rates from the next snapshot\)`)
	lineMatching(t, frames[3], `connections 1\.2k msgs/s in 1\.0k .*`)
}

// TestTerminal: on a terminal each frame clears the screen first.
func TestTerminal(t *testing.T) {
	url, client := startAdmin(t, &fakeAdmin{})
	out, err := runTop(t, Config{URL: url, Interval: 10 * time.Millisecond, Frames: 2, Terminal: true, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\x1b[H\x1b[2J"); n != 2 || !strings.HasPrefix(out, "\x1b[H\x1b[2J") {
		t.Errorf("%d clear-screens, want one before each of 2 frames:\n%q", n, out)
	}
}

// TestBounded: at scale, the frame stays the same size: the 10 busiest
// routes and the rest summed, the rooms asked for.
func TestBounded(t *testing.T) {
	url, client := startAdmin(t, &fakeAdmin{routes: 30})
	out, err := runTop(t, Config{URL: url, Once: true, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	lineMatching(t, out, `… 22 more routes 231`) // /r/00 to /r/21: 0+1+...+21 connections
	lineMatching(t, out, `/r/29 29 - - - - -`)
	if strings.Contains(out, "/r/21 ") {
		t.Errorf("route /r/21 shown; want only the 10 busiest:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n > 30 {
		t.Errorf("%d lines, want at most 30:\n%s", n, out)
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "http://127.0.0.1:8766",
		"127.0.0.1:9100":             "http://127.0.0.1:9100",
		"http://127.0.0.1:8766/":     "http://127.0.0.1:8766",
		"https://admin.example/nows": "https://admin.example/nows",
		"http://[::1]:8766?x=1":      "http://[::1]:8766",
	} {
		got, err := BaseURL(in)
		if err != nil || got != want {
			t.Errorf("BaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ws://127.0.0.1:8766", "http://", "http://%zz"} {
		if got, err := BaseURL(in); err == nil {
			t.Errorf("BaseURL(%q) = %q, want an error", in, got)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{num(0), "0"}, {num(2.5), "2.5"}, {num(950), "950"}, {num(1234), "1.2k"},
		{num(34_500), "34.5k"}, {num(100_000), "100k"}, {num(1_200_000), "1.2M"}, {num(3.4e9), "3.4G"},
		{size(512), "512 B"}, {size(6400), "6.4 kB"}, {size(3.4e6), "3.4 MB"}, {size(128e6), "128 MB"},
		{seconds(850e-9), "850ns"}, {seconds(12e-6), "12µs"}, {seconds(3.4e-3), "3.4ms"}, {seconds(1.5), "1.5s"},
		{uptime(42 * time.Second), "42s"}, {uptime(5*time.Minute + 3*time.Second), "5m3s"},
		{uptime(2*time.Hour + 5*time.Minute), "2h5m"}, {uptime(76 * time.Hour), "3d4h"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestUsageErrors: mistakes on the command line exit with 2, before any
// request.
func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct{ args, err string }{
		{"top --interval 1ms", "--interval 1ms is too short (at least 100ms)"},
		{"top --rooms 0", "--rooms 0: choose 1 to 500"},
		{"top --rooms 501", "--rooms 501: choose 1 to 500"},
		{"top ws://127.0.0.1:1", `ADMIN_URL "ws://127.0.0.1:1": want an http:// or https:// URL`},
		{"top a b", "want at most one ADMIN_URL argument, got 2"},
	} {
		a := &cli.App{Name: "nows", Commands: []*cli.Command{Command()}, Writer: io.Discard, ErrWriter: io.Discard,
			ExitErrHandler: func(*cli.Context, error) {}}
		err := a.Run(append([]string{"nows"}, strings.Fields(tt.args)...))
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("nows %s: error %v, want exit code 2 and %q", tt.args, err, tt.err)
		}
	}
}
