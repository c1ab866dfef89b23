package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/wstest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The routes of the tests: an echo, a text-only echo, and a room per path.
type echoHandler struct{}

func (echoHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

func (echoHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return c.SendBinary(ctx, data)
}

type textHandler struct{}

func (textHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

type roomHandler struct{}

func (roomHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	if err := c.Join(c.Params().Str("name")); err != nil {
		return err
	}
	return c.SendText(ctx, "joined")
}

func (roomHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error { return nil }

var testBP = framework.NewBlueprint("",
	framework.Route[echoHandler]("/echo"),
	framework.Route[textHandler]("/text"),
	framework.Route[roomHandler]("/room/{name:str}"),
)

// syncBuffer collects logs from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a server on a random port of 127.0.0.1 with its admin listener
// on another.
type env struct {
	srv   *wstest.Server
	admin string // http://127.0.0.1:PORT
	logs  *syncBuffer
	http  *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOptions(t, framework.Options{MaxMessageBytes: 1000})
}

func newEnvOptions(t *testing.T, opts framework.Options) *env {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	adm := admin.New(&opts)
	adm.Addr = "127.0.0.1:0"
	srv := wstest.NewServerOptions(t, opts, testBP)
	stop, err := adm.Start(srv.Server)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(func() {
		stop()
		client.CloseIdleConnections()
	})
	if !strings.Contains(logs.String(), `msg="nows: admin listening" addr=http://`+adm.Addr+"/") {
		t.Errorf("the admin listener does not log the address it bound (%s); logs:\n%s", adm.Addr, logs)
	}
	return &env{srv: srv, admin: "http://" + adm.Addr, logs: logs, http: client}
}

// get returns the status, content type and body of an admin URL path.
func (e *env) get(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	resp, err := e.http.Get(e.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// scrape returns every sample of /metrics as "name{label="value",...}"
// (labels sorted) → value; a histogram as its _count and _sum.
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	status, ctype, body := e.get(t, "/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("/metrics: %d %s, want 200 text/plain", status, ctype)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := func(suffix string) string {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				slices.Sort(labels)
				return name + suffix + "{" + strings.Join(labels, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key("")] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key("")] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key("_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key("_sum")] = m.GetHistogram().GetSampleSum()
			default:
				out[key("")] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// session runs the scripted session: /echo and /text open, text
// and binary echoed on /echo, text on /text, a handshake for no route (404), a message
// over the limit on /text (1009), /echo closed normally (1000). whileOpen
// runs while both connections are open, once each has echoed.
func (e *env) session(t *testing.T, whileOpen func()) {
	t.Helper()
	echo := e.srv.Dial(t, "/echo")
	text := e.srv.Dial(t, "/text")
	echo.SendText("hello")
	echo.ExpectText("hello")
	echo.SendBinary([]byte{0, 1, 2})
	echo.ExpectBinary([]byte{0, 1, 2})
	text.SendText("hi")
	text.ExpectText("hi")
	whileOpen()

	if _, resp, err := e.srv.DialOptions(t, "/nowhere", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial /nowhere: %v, %v; want a 404", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = text.Conn().Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 2000)))
	text.ExpectClose(websocket.StatusMessageTooBig)
	if err := echo.Conn().Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 10 ms for at most 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsSession checks each metric of /metrics, scraped from the real
// admin listener, during and after the scripted session.
func TestMetricsSession(t *testing.T) {
	e := newEnv(t)
	var during map[string]float64
	e.session(t, func() { during = e.scrape(t) })
	for k, want := range map[string]float64{
		`nows_connections{route="/echo"}`:            1,
		`nows_connections{route="/text"}`:            1,
		`nows_connections{route="/room/{name:str}"}`: 0,
		`nows_handshakes_total{status="101"}`:        2,
	} {
		if got, ok := during[k]; !ok || got != want {
			t.Errorf("while open: %s = %v (present: %v), want %v", k, got, ok, want)
		}
	}

	var got map[string]float64
	eventually(t, "both closes counted", func() bool {
		got = e.scrape(t)
		return got[`nows_closes_total{cause="peer closed",code="1000"}`] == 1 &&
			got[`nows_closes_total{cause="message too big",code="1009"}`] == 1
	})
	want := map[string]float64{
		`nows_connections{route="/echo"}`:                                  0,
		`nows_connections{route="/text"}`:                                  0,
		`nows_connections{route="/room/{name:str}"}`:                       0,
		`nows_handshakes_total{status="101"}`:                              2,
		`nows_handshakes_total{status="404"}`:                              1,
		`nows_messages_received_total{route="/echo",type="text"}`:          1,
		`nows_messages_received_total{route="/echo",type="binary"}`:        1,
		`nows_messages_received_total{route="/text",type="text"}`:          1,
		`nows_messages_received_total{route="/text",type="binary"}`:        0,
		`nows_messages_sent_total{route="/echo",type="text"}`:              1,
		`nows_messages_sent_total{route="/echo",type="binary"}`:            1,
		`nows_messages_sent_total{route="/text",type="text"}`:              1,
		`nows_bytes_received_total{route="/echo"}`:                         8,
		`nows_bytes_sent_total{route="/echo"}`:                             8,
		`nows_bytes_received_total{route="/text"}`:                         2,
		`nows_bytes_sent_total{route="/text"}`:                             2,
		`nows_hook_duration_seconds_count{hook="OnMessage",route="/text"}`: 1,
		`nows_closes_total{cause="peer closed",code="1000"}`:               1,
		`nows_closes_total{cause="message too big",code="1009"}`:           1,
		`nows_hook_duration_seconds_count{hook="OnMessage",route="/echo"}`: 1,
		`nows_hook_duration_seconds_count{hook="OnBinary",route="/echo"}`:  1,
		`nows_queue_dropped_total{route="/echo"}`:                          0,
		`nows_queue_dropped_total{route="/text"}`:                          0,
		`nows_rooms{}`:               0,
		`nows_room_members{}`:        0,
		`nows_broker_errors_total{}`: 0,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, w)
		}
	}
	for k, v := range got {
		switch {
		case strings.HasPrefix(k, "nows_closes_total") && want[k] == 0:
			t.Errorf("unexpected close: %s = %v", k, v)
		case strings.HasPrefix(k, "nows_handshakes_total") && want[k] == 0:
			t.Errorf("unexpected handshake status: %s = %v", k, v)
		case strings.HasPrefix(k, "nows_hook_duration_seconds_count") && want[k] == 0:
			t.Errorf("unexpected hook: %s = %v", k, v)
		case strings.HasPrefix(k, "nows_broker_up"):
			t.Errorf("%s = %v without a broker, want no such metric", k, v)
		case strings.Contains(k, "/nowhere"):
			t.Errorf("a raw path as a label: %s", k)
		}
	}
	if s := got[`nows_hook_duration_seconds_sum{hook="OnMessage",route="/echo"}`]; s <= 0 || s > 5 {
		t.Errorf("OnMessage took %v s in all, want a small positive number", s)
	}
	for _, k := range []string{`go_goroutines{}`, `process_cpu_seconds_total{}`} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing: the Go and process collectors are not registered", k)
		}
	}
}

// snapshotDoc is the JSON contract of /api/snapshot.
type snapshotDoc struct {
	Time        time.Time         `json:"time"`
	Started     time.Time         `json:"started"`
	Node        string            `json:"node"`
	Connections int64             `json:"connections"`
	Handshakes  map[string]uint64 `json:"handshakes"`
	Routes      []struct {
		Route       string `json:"route"`
		Connections int64  `json:"connections"`
		Opened      uint64 `json:"opened"`
		Closed      uint64 `json:"closed"`
		MessagesIn  uint64 `json:"messages_in"`
		MessagesOut uint64 `json:"messages_out"`
		BytesIn     uint64 `json:"bytes_in"`
		BytesOut    uint64 `json:"bytes_out"`
		TextIn      uint64 `json:"text_in"`
		BinaryIn    uint64 `json:"binary_in"`
		Hooks       map[string]struct {
			Count      uint64  `json:"count"`
			SumSeconds float64 `json:"sum_seconds"`
		} `json:"hooks"`
	} `json:"routes"`
	Closes []struct {
		Code  int    `json:"code"`
		Cause string `json:"cause"`
		Count uint64 `json:"count"`
	} `json:"closes"`
	QueueDropped uint64 `json:"queue_dropped"`
	Rooms        struct {
		Count   int `json:"count"`
		Members int `json:"members"`
		Page    int `json:"page"`
		PerPage int `json:"per_page"`
		Largest []struct {
			Room    string `json:"room"`
			Members int    `json:"members"`
		} `json:"largest"`
	} `json:"rooms"`
	Broker struct {
		Configured    bool   `json:"configured"`
		OK            bool   `json:"ok"`
		Error         string `json:"error"`
		Published     uint64 `json:"published"`
		PublishErrors uint64 `json:"publish_errors"`
	} `json:"broker"`
}

// snapshot gets /api/snapshot with query, checks that it has exactly the
// contract's fields, and decodes it.
func (e *env) snapshot(t *testing.T, query string) snapshotDoc {
	t.Helper()
	status, ctype, body := e.get(t, "/api/snapshot"+query)
	if status != http.StatusOK || ctype != "application/json" {
		t.Fatalf("/api/snapshot%s: %d %s %s, want 200 application/json", query, status, ctype, body)
	}
	var doc snapshotDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("/api/snapshot: %v\n%s", err, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	want := []string{"broker", "closes", "connections", "handshakes", "node", "queue_dropped", "rooms", "routes", "started", "time"}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, want) {
		t.Errorf("/api/snapshot fields %v, want %v", got, want)
	}
	for _, arr := range []string{"routes", "closes"} {
		if string(raw[arr]) == "null" {
			t.Errorf("%s is null, want a list", arr)
		}
	}
	return doc
}

// TestSnapshotSession checks /api/snapshot after the scripted session.
func TestSnapshotSession(t *testing.T) {
	e := newEnv(t)
	var during snapshotDoc
	e.session(t, func() { during = e.snapshot(t, "") })
	if during.Connections != 2 {
		t.Errorf("while open: connections %d, want 2", during.Connections)
	}
	var doc snapshotDoc
	// A snapshot reads its counters one by one while closes are counted,
	// so it may see a close in one counter and not yet in another: wait
	// until every counter has both.
	eventually(t, "both closes in the snapshot", func() bool {
		doc = e.snapshot(t, "")
		closed := uint64(0)
		for _, r := range doc.Routes {
			closed += r.Closed
		}
		return len(doc.Closes) == 2 && doc.Connections == 0 && closed == 2
	})
	if doc.Connections != 0 || doc.QueueDropped != 0 {
		t.Errorf("connections %d, queue_dropped %d, want 0 and 0", doc.Connections, doc.QueueDropped)
	}
	if want := map[string]uint64{"101": 2, "404": 1}; !maps.Equal(doc.Handshakes, want) {
		t.Errorf("handshakes %v, want %v", doc.Handshakes, want)
	}
	var routes []string
	for _, r := range doc.Routes {
		routes = append(routes, r.Route)
	}
	if want := []string{"/echo", "/room/{name:str}", "/text"}; !slices.Equal(routes, want) {
		t.Fatalf("routes %q, want %q (every registered route, sorted)", routes, want)
	}
	echo, room, text := doc.Routes[0], doc.Routes[1], doc.Routes[2]
	if echo.Opened != 1 || echo.Closed != 1 || echo.Connections != 0 ||
		echo.MessagesIn != 2 || echo.TextIn != 1 || echo.BinaryIn != 1 || echo.MessagesOut != 2 ||
		echo.BytesIn != 8 || echo.BytesOut != 8 {
		t.Errorf("/echo: %+v", echo)
	}
	if h := echo.Hooks["OnMessage"]; h.Count != 1 || h.SumSeconds <= 0 {
		t.Errorf("/echo OnMessage: %+v, want count 1 and a positive sum", h)
	}
	if h := echo.Hooks["OnBinary"]; h.Count != 1 || len(echo.Hooks) != 2 {
		t.Errorf("/echo hooks: %+v, want OnMessage and OnBinary once each", echo.Hooks)
	}
	if text.Opened != 1 || text.Closed != 1 || text.MessagesIn != 1 || text.TextIn != 1 || text.BytesIn != 2 ||
		text.MessagesOut != 1 || len(text.Hooks) != 1 {
		t.Errorf("/text: %+v", text)
	}
	if room.Opened != 0 || room.Hooks == nil {
		t.Errorf("/room/{name:str}: %+v, want zeros and hooks {}", room)
	}
	for _, c := range doc.Closes {
		if !(c.Code == 1000 && c.Cause == "peer closed" || c.Code == 1009 && c.Cause == "message too big") || c.Count != 1 {
			t.Errorf("close %+v, want 1000 peer closed and 1009 message too big, once each", c)
		}
	}
	if doc.Node != e.srv.Hub().Node() || doc.Node == "" {
		t.Errorf("node %q, want the hub's %q", doc.Node, e.srv.Hub().Node())
	}
	if since := time.Since(doc.Time); since < 0 || since > time.Minute || doc.Started.After(doc.Time) {
		t.Errorf("time %v, started %v", doc.Time, doc.Started)
	}
	if doc.Rooms.Count != 0 || doc.Rooms.Page != 1 || doc.Rooms.PerPage != 50 || doc.Rooms.Largest == nil {
		t.Errorf("rooms %+v, want none, page 1 of 50, largest []", doc.Rooms)
	}
	if b := doc.Broker; b.Configured || !b.OK || b.Error != "" || b.Published != 0 {
		t.Errorf("broker %+v, want not configured, ok", b)
	}
}

// TestSnapshotRooms: rooms largest first, then by name, paged.
func TestSnapshotRooms(t *testing.T) {
	e := newEnv(t)
	for room, n := range map[string]int{"a": 1, "b": 3, "c": 2, "d": 3, "e": 1} {
		for range n {
			e.srv.Dial(t, "/room/"+room).ExpectText("joined")
		}
	}
	type room struct {
		name    string
		members int
	}
	page := func(query string) []room {
		doc := e.snapshot(t, query)
		if doc.Rooms.Count != 5 || doc.Rooms.Members != 10 {
			t.Errorf("%s: rooms %d with %d members, want 5 with 10", query, doc.Rooms.Count, doc.Rooms.Members)
		}
		var out []room
		for _, r := range doc.Rooms.Largest {
			out = append(out, room{r.Room, r.Members})
		}
		return out
	}
	for query, want := range map[string][]room{
		"":                   {{"b", 3}, {"d", 3}, {"c", 2}, {"a", 1}, {"e", 1}},
		"?page=1&per_page=2": {{"b", 3}, {"d", 3}},
		"?page=2&per_page=2": {{"c", 2}, {"a", 1}},
		"?page=3&per_page=2": {{"e", 1}},
		"?page=4&per_page=2": nil,
		"?per_page=500":      {{"b", 3}, {"d", 3}, {"c", 2}, {"a", 1}, {"e", 1}},
	} {
		if got := page(query); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", query, got, want)
		}
	}
	got := e.scrape(t)
	if got[`nows_rooms{}`] != 5 || got[`nows_room_members{}`] != 10 {
		t.Errorf("nows_rooms %v, nows_room_members %v, want 5 and 10", got[`nows_rooms{}`], got[`nows_room_members{}`])
	}
}

// TestSnapshotBadQuery: a bad page or per_page is a 400 with one line.
func TestSnapshotBadQuery(t *testing.T) {
	e := newEnv(t)
	for query, want := range map[string]string{
		"?page=0":       "admin: page 0: want 1 or more\n",
		"?page=-1":      "admin: page -1: want 1 or more\n",
		"?page=x":       "admin: page \"x\": want a whole number\n",
		"?per_page=0":   "admin: per_page 0: want 1 to 500\n",
		"?per_page=501": "admin: per_page 501: want 1 to 500\n",
		"?per_page=1e3": "admin: per_page \"1e3\": want a whole number\n",
	} {
		status, _, body := e.get(t, "/api/snapshot"+query)
		if status != http.StatusBadRequest || string(body) != want {
			t.Errorf("%s: %d %q, want 400 %q", query, status, body, want)
		}
	}
}

// external matches what makes a page load something from another site: a
// script, image or style sheet (not a link to follow).
var external = regexp.MustCompile(`(?i)(src\s*=\s*["']?|<link[^>]*href\s*=\s*["']?|url\(\s*["']?|@import\s+["'])(https?:)?//`)

// TestDashboard: the embedded page at /, with no CDN.
func TestDashboard(t *testing.T) {
	e := newEnv(t)
	status, ctype, body := e.get(t, "/")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("/: %d %s, want 200 text/html", status, ctype)
	}
	if m := external.Find(body); m != nil {
		t.Errorf("the dashboard loads %s from another site: it must work offline", m)
	}
	if status, _, _ := e.get(t, "/no-such-file"); status != http.StatusNotFound {
		t.Errorf("/no-such-file: %d, want 404", status)
	}
}

// TestAddrInUse: a taken port fails at start, naming the flag, the
// variable and how to turn the listener off.
func TestAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var opts framework.Options
	adm := admin.New(&opts)
	adm.Addr = ln.Addr().String()
	srv := framework.NewServer(opts)
	stop, err := adm.Start(srv)
	if err == nil {
		stop()
		t.Fatal("Start on a taken port: no error")
	}
	want := "admin: listen " + ln.Addr().String() + ": address already in use: choose another with --admin-addr or NOWS_ADMIN_ADDR, or set it to \"\" to turn the admin listener off"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	adm.Addr = "127.0.0.1:http-nope"
	if _, err = adm.Start(srv); err == nil || !strings.Contains(err.Error(), "--admin-addr or NOWS_ADMIN_ADDR") {
		t.Errorf("a bad address: %v, want an error naming --admin-addr", err)
	}
}

// TestBindFlags: the flag wins over NOWS_ADMIN_ADDR, over the default;
// empty turns the listener off.
func TestBindFlags(t *testing.T) {
	t.Setenv("NOWS_ADMIN_ADDR", "") // restored after the test
	for _, tc := range []struct {
		env  *string
		args []string
		want string
	}{
		{nil, nil, admin.DefaultAddr},
		{ptr("127.0.0.1:9100"), nil, "127.0.0.1:9100"},
		{ptr("127.0.0.1:9100"), []string{"--admin-addr", "127.0.0.1:9200"}, "127.0.0.1:9200"},
		{ptr(""), nil, ""},
		{nil, []string{"--admin-addr="}, ""},
	} {
		if tc.env != nil {
			os.Setenv("NOWS_ADMIN_ADDR", *tc.env)
		} else {
			os.Unsetenv("NOWS_ADMIN_ADDR")
		}
		var opts framework.Options
		adm := admin.New(&opts)
		fs := flag.NewFlagSet("app", flag.ContinueOnError)
		adm.BindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if adm.Addr != tc.want {
			t.Errorf("env %v, args %q: Addr %q, want %q", tc.env, tc.args, adm.Addr, tc.want)
		}
		// Off, the server gets no observer: metrics cost it nothing.
		if on := opts.Observer != nil; on != (tc.want != "") {
			t.Errorf("env %v, args %q: Observer set %v, want %v", tc.env, tc.args, on, tc.want != "")
		}
		if tc.want == "" {
			stop, err := adm.Start(framework.NewServer(opts))
			if err != nil {
				t.Errorf("Start with Addr \"\": %v, want nothing done", err)
			} else {
				stop()
			}
		}
		f := fs.Lookup("admin-addr")
		if !strings.Contains(f.Usage, "(env NOWS_ADMIN_ADDR)") || !strings.Contains(f.Usage, "empty: off") {
			t.Errorf("usage %q, want the variable and how to turn it off", f.Usage)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// countingObserver counts the events it sees.
type countingObserver struct{ n atomic.Int64 }

func (o *countingObserver) Observe(framework.Event) { o.n.Add(1) }

// TestBindFlagsKeepsObserver: an observer the app set before New stays,
// with the admin listener on (beside the metrics) and off (alone), and
// a flag turned on again after off brings the metrics back.
func TestBindFlagsKeepsObserver(t *testing.T) {
	t.Setenv("NOWS_ADMIN_ADDR", "")
	mine := &countingObserver{}
	opts := framework.Options{Observer: mine}
	adm := admin.New(&opts)
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	adm.BindFlags(fs)
	if opts.Observer != framework.Observer(mine) {
		t.Fatalf("with NOWS_ADMIN_ADDR empty, Observer is %T, want the app's own", opts.Observer)
	}
	if err := fs.Parse([]string{"--admin-addr", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if opts.Observer == nil || opts.Observer == framework.Observer(mine) {
		t.Fatalf("with --admin-addr set, Observer is %T, want the app's and the metrics", opts.Observer)
	}
	opts.Observer.Observe(framework.Event{Kind: framework.EventOpen})
	if mine.n.Load() != 1 {
		t.Fatalf("the app's observer saw %d events, want 1", mine.n.Load())
	}
}

// TestRun: Run serves the app and the admin listener until ctx ends, then
// stops both.
func TestRun(t *testing.T) {
	logs := &syncBuffer{}
	opts := framework.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(logs, nil))}
	adm := admin.New(&opts)
	adm.Addr = "127.0.0.1:0"
	srv := framework.NewServer(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- adm.Run(ctx, srv, testBP) }()
	eventually(t, "the app and the admin listening", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v; logs:\n%s", err, logs)
		default:
		}
		l := logs.String() // then Addr, set before the log, is safe to read
		return strings.Contains(l, "nows: admin listening") && strings.Contains(l, "nows: listening")
	})
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + adm.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `nows_connections{route="/echo"} 0`) {
		t.Errorf("/metrics under Run lacks the routes:\n%s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its context's end")
	}
	if c, err := net.DialTimeout("tcp", adm.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the admin listener still answers after Run returned")
	}
}

// TestBroker: with a broker, the snapshot and the metrics say it is
// configured and up, then down with its error once publishes fail.
func TestBroker(t *testing.T) {
	b := &brokertest.CutBroker{Broker: framework.NewMemoryBroker()}
	e := newEnvOptions(t, framework.Options{Hub: framework.HubOptions{Broker: b}})
	eventually(t, "the broker configured and up", func() bool {
		doc := e.snapshot(t, "")
		return doc.Broker.Configured && doc.Broker.OK && doc.Broker.Published > 0 && e.scrape(t)[`nows_broker_up{}`] == 1
	})

	b.Cut.Store(true)
	e.srv.Dial(t, "/room/lobby").ExpectText("joined") // the join is published, and fails
	var doc snapshotDoc
	eventually(t, "the broker down in the snapshot", func() bool {
		doc = e.snapshot(t, "")
		return !doc.Broker.OK
	})
	if !doc.Broker.Configured || doc.Broker.PublishErrors == 0 || !strings.Contains(doc.Broker.Error, "brokertest: cut off") {
		t.Errorf("broker %+v, want configured, publish errors and the error", doc.Broker)
	}
	got := e.scrape(t)
	if got[`nows_broker_up{}`] != 0 || got[`nows_broker_errors_total{}`] == 0 {
		t.Errorf("nows_broker_up %v, nows_broker_errors_total %v, want 0 and some", got[`nows_broker_up{}`], got[`nows_broker_errors_total{}`])
	}
	if doc.Rooms.Count != 1 || len(doc.Rooms.Largest) != 1 || doc.Rooms.Largest[0].Room != "lobby" {
		t.Errorf("rooms %+v, want lobby: local delivery goes on", doc.Rooms)
	}
}
