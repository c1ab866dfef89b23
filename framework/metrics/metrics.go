// Package metrics counts what a nows server does, for Prometheus and for
// the admin listener's snapshot (package framework/admin serves both).
//
// A Metrics is the server's Observer: it counts each event with a few
// atomic additions on a per-route record, and turns the counts into
// Prometheus metrics only when it is scraped. Label values are bounded:
// route patterns (never raw paths), HTTP statuses, close codes (those
// outside the registered range grouped as "3xxx", "4xxx" or "other") and
// causes.
//
//	m := metrics.New()
//	opts.Observer = m // before framework.NewServer(opts)
//	srv := framework.NewServer(opts)
//	m.Attach(srv) // the route table, the rooms and the broker state
//	prometheus.MustRegister(m)
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// Metrics counts the events of one server. Set it as Options.Observer
// before framework.NewServer, then Attach the server. It is a
// prometheus.Collector of the metrics of docs/observability.md.
type Metrics struct {
	started time.Time
	srv     atomic.Pointer[framework.Server]

	routes sync.Map // route pattern → *routeStats

	handshakes [600]atomic.Uint64 // by HTTP status; [0]: a status outside 100–599
	closes     [numCodes][numCauses]atomic.Uint64

	published     atomic.Uint64 // broker publishes that succeeded
	publishErrors atomic.Uint64 // and that failed
	failing       atomic.Bool   // the last publish failed
	recoveries    atomic.Uint64 // a publish that succeeded after one that failed: the broker is back
}

// New returns a Metrics that counts from now on.
func New() *Metrics {
	return &Metrics{started: time.Now()}
}

// Attach gives m the server it observes: its registered routes (listed
// also before their first connection), its hub's rooms and members, and
// its broker's state. It starts the hub, so that a broker, if any, is
// known from its first publishes by the first scrape. Call it once the
// server is made, before it serves.
func (m *Metrics) Attach(srv *framework.Server) {
	m.srv.Store(srv)
	_ = srv.Hub().Rooms() // starts the hub: it publishes to its broker, if any, at once
}

// Observe counts e. It implements framework.Observer: a few atomic
// additions, no lock, no allocation once the route has been seen.
func (m *Metrics) Observe(e framework.Event) {
	switch e.Kind {
	case framework.EventHandshake:
		s := e.Status
		if s < 100 || s >= len(m.handshakes) {
			s = 0
		}
		m.handshakes[s].Add(1)
	case framework.EventOpen:
		r := m.route(e.Route)
		r.conns.Add(1)
		r.opened.Add(1)
	case framework.EventClose:
		r := m.route(e.Route)
		r.conns.Add(-1)
		r.closed.Add(1)
		m.closes[codeIndex(e.Code)][causeIndex(e.Cause)].Add(1)
	case framework.EventReceived:
		r := m.route(e.Route)
		r.msgIn[typeIndex(e.Type)].Add(1)
		r.bytesIn.Add(uint64(e.Bytes))
	case framework.EventSent:
		r := m.route(e.Route)
		r.msgOut[typeIndex(e.Type)].Add(1)
		r.bytesOut.Add(uint64(e.Bytes))
	case framework.EventDropped:
		m.route(e.Route).dropped.Add(uint64(e.Count))
	case framework.EventBlocked:
		m.route(e.Route).blocked.Add(uint64(e.Count))
	case framework.EventHook:
		if i := hookIndex(e.Hook); i >= 0 {
			m.route(e.Route).hooks[i].observe(e.Duration)
		}
	case framework.EventPublish:
		if e.Err != nil {
			m.publishErrors.Add(1)
			m.failing.Store(true)
		} else {
			m.published.Add(1)
			if m.failing.Load() && m.failing.Swap(false) {
				m.recoveries.Add(1)
			}
		}
	}
}

// route returns the record of a route pattern, made on its first event.
func (m *Metrics) route(pattern string) *routeStats {
	if r, ok := m.routes.Load(pattern); ok {
		return r.(*routeStats)
	}
	r, _ := m.routes.LoadOrStore(pattern, &routeStats{route: pattern})
	return r.(*routeStats)
}

// routeStats are the counters of one route pattern.
type routeStats struct {
	route          string
	conns          atomic.Int64 // open now
	opened, closed atomic.Uint64
	msgIn, msgOut  [2]atomic.Uint64 // text, binary
	bytesIn        atomic.Uint64
	bytesOut       atomic.Uint64
	dropped        atomic.Uint64
	blocked        atomic.Uint64
	hooks          [len(hookNames)]hookStats
}

// The message types, as label values, by typeIndex.
var typeNames = [2]string{"text", "binary"}

func typeIndex(t websocket.MessageType) int {
	if t == websocket.MessageBinary {
		return 1
	}
	return 0
}

// The hooks timed, as label values, by hookIndex.
var hookNames = [...]string{"OnOpen", "OnMessage", "OnBinary", "OnClose"}

func hookIndex(name string) int {
	for i, h := range hookNames {
		if h == name {
			return i
		}
	}
	return -1
}

// hookBounds are the upper bounds, in seconds, of the buckets of
// nows_hook_duration_seconds: from 100 µs (an echo) to 10 s (a hook
// waiting on a slow database).
var hookBounds = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// hookStats is a histogram of hook durations kept as atomics: the count
// of each bucket (not cumulative; the last one is over the largest
// bound), the total count and the sum in nanoseconds.
type hookStats struct {
	buckets [len(hookBounds) + 1]atomic.Uint64
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

func (h *hookStats) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(hookBounds) && s > hookBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
	h.count.Add(1)
}

// cumulative returns the histogram's count, sum in seconds and cumulative
// bucket counts by upper bound, as Prometheus wants them.
func (h *hookStats) cumulative() (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(hookBounds))
	var acc uint64
	for i, b := range hookBounds {
		acc += h.buckets[i].Load()
		buckets[b] = acc
	}
	count = acc + h.buckets[len(hookBounds)].Load()
	return count, float64(h.sumNs.Load()) / 1e9, buckets
}

// Close codes: 1000–1015 each their own; the others in three groups, so
// that a peer cannot add label values.
const (
	code3xxx  = 16 + iota // 3000–3999, for libraries and frameworks
	code4xxx              // 4000–4999, for applications
	codeOther             // anything else
	numCodes
)

func codeIndex(c websocket.StatusCode) int {
	switch {
	case c >= 1000 && c <= 1015:
		return int(c - 1000)
	case c >= 3000 && c <= 3999:
		return code3xxx
	case c >= 4000 && c <= 4999:
		return code4xxx
	}
	return codeOther
}

// codeLabel is the label value of nows_closes_total for a codeIndex, and
// codeNumber the code of the snapshot (3000, 4000, or 0 for the others).
func codeLabel(i int) string {
	switch i {
	case code3xxx:
		return "3xxx"
	case code4xxx:
		return "4xxx"
	case codeOther:
		return "other"
	}
	return strconv.Itoa(1000 + i)
}

func codeNumber(i int) int {
	switch i {
	case code3xxx:
		return 3000
	case code4xxx:
		return 4000
	case codeOther:
		return 0
	}
	return 1000 + i
}

// numCauses bounds the causes counted apart; [0] holds a cause outside
// the range (none today), labelled "other".
const numCauses = 32

func causeIndex(c framework.Cause) int {
	if c <= 0 || c >= numCauses {
		return 0
	}
	return int(c)
}

func causeLabel(i int) string {
	if i == 0 {
		return "other"
	}
	return framework.Cause(i).String()
}
