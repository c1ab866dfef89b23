package metrics_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Close codes outside 1000–1015 are grouped, so that a peer cannot add
// label values; causes keep their names.
func TestCloseCodeLabels(t *testing.T) {
	m := metrics.New()
	for _, code := range []websocket.StatusCode{1000, 1011, 1015, 3000, 3999, 4000, 4001, 4999, 1016, 2999, 5000, 0} {
		m.Observe(framework.Event{Kind: framework.EventClose, Route: "/r", Code: code, Cause: framework.CausePeer})
	}
	m.Observe(framework.Event{Kind: framework.EventClose, Route: "/r", Code: 1011, Cause: framework.CauseHandlerPanic})
	m.Observe(framework.Event{Kind: framework.EventClose, Route: "/r", Code: 1006, Cause: framework.Cause(99)})
	want := `
# HELP nows_closes_total Connections ended, by close code (3xxx, 4xxx and other grouped) and cause.
# TYPE nows_closes_total counter
nows_closes_total{cause="handler panic",code="1011"} 1
nows_closes_total{cause="other",code="1006"} 1
nows_closes_total{cause="peer closed",code="1000"} 1
nows_closes_total{cause="peer closed",code="1011"} 1
nows_closes_total{cause="peer closed",code="1015"} 1
nows_closes_total{cause="peer closed",code="3xxx"} 2
nows_closes_total{cause="peer closed",code="4xxx"} 3
nows_closes_total{cause="peer closed",code="other"} 4
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "nows_closes_total"); err != nil {
		t.Error(err)
	}
	var doc struct {
		Closes []struct {
			Code  int    `json:"code"`
			Cause string `json:"cause"`
			Count int    `json:"count"`
		} `json:"closes"`
	}
	b, err := m.Snapshot(1, 50)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Closes) != 8 || doc.Closes[0].Code != 0 || doc.Closes[0].Count != 4 ||
		doc.Closes[1].Code != 4000 || doc.Closes[1].Count != 3 || doc.Closes[2].Code != 3000 || doc.Closes[2].Count != 2 {
		t.Errorf("snapshot closes, largest first: %+v", doc.Closes)
	}
}

// Handshake statuses are counted as they come; one outside 100–599 as
// "other".
func TestHandshakes(t *testing.T) {
	m := metrics.New()
	for _, s := range []int{101, 101, 404, 503, 0, 999} {
		m.Observe(framework.Event{Kind: framework.EventHandshake, Status: s})
	}
	want := `
# HELP nows_handshakes_total WebSocket handshakes answered, by HTTP status (101: upgraded).
# TYPE nows_handshakes_total counter
nows_handshakes_total{status="101"} 2
nows_handshakes_total{status="404"} 1
nows_handshakes_total{status="503"} 1
nows_handshakes_total{status="other"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "nows_handshakes_total"); err != nil {
		t.Error(err)
	}
}

// Hook durations land in the buckets they belong to.
func TestHookHistogram(t *testing.T) {
	m := metrics.New()
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond, 20 * time.Second} {
		m.Observe(framework.Event{Kind: framework.EventHook, Route: "/r", Hook: "OnMessage", Duration: d})
	}
	m.Observe(framework.Event{Kind: framework.EventHook, Route: "/r", Hook: "OnSomethingNew", Duration: time.Second})
	want := `
# HELP nows_hook_duration_seconds How long the handlers' hooks ran.
# TYPE nows_hook_duration_seconds histogram
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.0001"} 2
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.00025"} 2
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.0005"} 2
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.001"} 2
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.0025"} 2
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.005"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.01"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.025"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.05"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.1"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.25"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="0.5"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="1"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="2.5"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="5"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="10"} 3
nows_hook_duration_seconds_bucket{hook="OnMessage",route="/r",le="+Inf"} 4
nows_hook_duration_seconds_sum{hook="OnMessage",route="/r"} 20.00315
nows_hook_duration_seconds_count{hook="OnMessage",route="/r"} 4
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "nows_hook_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// Drops, blocks and publishes are counted; with publishes, the broker is known.
func TestDropsAndBroker(t *testing.T) {
	m := metrics.New()
	m.Observe(framework.Event{Kind: framework.EventDropped, Route: "/r", Count: 3})
	m.Observe(framework.Event{Kind: framework.EventDropped, Route: "/r", Count: 2})
	m.Observe(framework.Event{Kind: framework.EventBlocked, Route: "/r", Count: 1})
	m.Observe(framework.Event{Kind: framework.EventBlocked, Route: "/r", Count: 1})
	m.Observe(framework.Event{Kind: framework.EventPublish})
	m.Observe(framework.Event{Kind: framework.EventPublish, Err: errors.New("down")})
	if got := testutil.ToFloat64(collectorOf(m, "nows_broker_recoveries_total")); got != 0 {
		t.Errorf("nows_broker_recoveries_total %v while failing, want 0", got)
	}
	m.Observe(framework.Event{Kind: framework.EventPublish})
	m.Observe(framework.Event{Kind: framework.EventPublish})
	if got := testutil.ToFloat64(collectorOf(m, "nows_broker_recoveries_total")); got != 1 {
		t.Errorf("nows_broker_recoveries_total %v after it worked again, want 1", got)
	}
	if got := testutil.ToFloat64(collectorOf(m, "nows_broker_errors_total")); got != 1 {
		t.Errorf("nows_broker_errors_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(collectorOf(m, "nows_queue_dropped_total")); got != 5 {
		t.Errorf("nows_queue_dropped_total %v, want 5", got)
	}
	if got := testutil.ToFloat64(collectorOf(m, "nows_queue_blocked_total")); got != 2 {
		t.Errorf("nows_queue_blocked_total %v, want 2", got)
	}
	b, err := m.Snapshot(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		QueueDropped int `json:"queue_dropped"`
		Broker       struct {
			Configured    bool `json:"configured"`
			Published     int  `json:"published"`
			PublishErrors int  `json:"publish_errors"`
		} `json:"broker"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.QueueDropped != 5 || !doc.Broker.Configured || doc.Broker.Published != 3 || doc.Broker.PublishErrors != 1 {
		t.Errorf("snapshot %s", b)
	}
}

// collectorOf is the collector of m's metric name alone.
func collectorOf(m *metrics.Metrics, name string) prometheus.Collector {
	return filtered{m, name}
}

type filtered struct {
	m    *metrics.Metrics
	name string
}

func (f filtered) Describe(ch chan<- *prometheus.Desc) { f.m.Describe(ch) }

func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.m.Collect(all); close(all) }()
	for metric := range all {
		if strings.Contains(metric.Desc().String(), `"`+f.name+`"`) {
			ch <- metric
		}
	}
}

// Snapshot refuses a page or page size out of range.
func TestSnapshotRange(t *testing.T) {
	m := metrics.New()
	for _, pp := range [][2]int{{0, 50}, {-1, 50}, {1, 0}, {1, metrics.MaxPerPage + 1}} {
		if _, err := m.Snapshot(pp[0], pp[1]); err == nil {
			t.Errorf("Snapshot(%d, %d): no error", pp[0], pp[1])
		}
	}
	if _, err := m.Snapshot(1000, metrics.MaxPerPage); err != nil {
		t.Errorf("Snapshot(1000, %d): %v, want an empty page", metrics.MaxPerPage, err)
	}
}

// Observe from many goroutines while scrapes run: the race detector
// watches, and every event is counted.
func TestConcurrent(t *testing.T) {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	const goroutines, events = 8, 1000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			route := []string{"/a", "/b"}[g%2]
			for range events {
				m.Observe(framework.Event{Kind: framework.EventOpen, Route: route})
				m.Observe(framework.Event{Kind: framework.EventReceived, Route: route, Type: websocket.MessageText, Bytes: 3})
				m.Observe(framework.Event{Kind: framework.EventClose, Route: route, Code: 1000, Cause: framework.CausePeer})
			}
		})
	}
	for range 20 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Snapshot(1, 10); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	want := `
# HELP nows_bytes_received_total Payload bytes of the messages received.
# TYPE nows_bytes_received_total counter
nows_bytes_received_total{route="/a"} 12000
nows_bytes_received_total{route="/b"} 12000
# HELP nows_connections WebSocket connections open now.
# TYPE nows_connections gauge
nows_connections{route="/a"} 0
nows_connections{route="/b"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nows_bytes_received_total", "nows_connections"); err != nil {
		t.Error(err)
	}
}

// Observe costs a few atomic additions and allocates nothing once the
// route has been seen.
func TestObserveAllocs(t *testing.T) {
	m := metrics.New()
	e := framework.Event{Kind: framework.EventReceived, Route: "/chat/{room}", Type: websocket.MessageText, Bytes: 10}
	m.Observe(e)
	if n := testing.AllocsPerRun(1000, func() { m.Observe(e) }); n != 0 {
		t.Errorf("Observe allocates %v times per event, want 0", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	m := metrics.New()
	e := framework.Event{Kind: framework.EventReceived, Route: "/chat/{room}", Type: websocket.MessageText, Bytes: 10}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(e)
		}
	})
}
