package metrics

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics, as docs/observability.md lists them.
var (
	descConnections = prometheus.NewDesc("nows_connections",
		"WebSocket connections open now.", []string{"route"}, nil)
	descHandshakes = prometheus.NewDesc("nows_handshakes_total",
		"WebSocket handshakes answered, by HTTP status (101: upgraded).", []string{"status"}, nil)
	descMsgIn = prometheus.NewDesc("nows_messages_received_total",
		"Messages received from clients.", []string{"route", "type"}, nil)
	descMsgOut = prometheus.NewDesc("nows_messages_sent_total",
		"Messages sent to clients, written or queued.", []string{"route", "type"}, nil)
	descBytesIn = prometheus.NewDesc("nows_bytes_received_total",
		"Payload bytes of the messages received.", []string{"route"}, nil)
	descBytesOut = prometheus.NewDesc("nows_bytes_sent_total",
		"Payload bytes of the messages sent.", []string{"route"}, nil)
	descCloses = prometheus.NewDesc("nows_closes_total",
		"Connections ended, by close code (3xxx, 4xxx and other grouped) and cause.", []string{"code", "cause"}, nil)
	descHooks = prometheus.NewDesc("nows_hook_duration_seconds",
		"How long the handlers' hooks ran.", []string{"route", "hook"}, nil)
	descDropped = prometheus.NewDesc("nows_queue_dropped_total",
		"Queued messages dropped unwritten (send queue full or connection closed).", []string{"route"}, nil)
	descBlocked = prometheus.NewDesc("nows_queue_blocked_total",
		"Broadcasts that waited for room in a full QueueBlock send queue.", []string{"route"}, nil)
	descRooms = prometheus.NewDesc("nows_rooms",
		"Rooms with members on any node.", nil, nil)
	descMembers = prometheus.NewDesc("nows_room_members",
		"Memberships of all rooms, on every node.", nil, nil)
	descBrokerErrors = prometheus.NewDesc("nows_broker_errors_total",
		"Publishes to the broker that failed.", nil, nil)
	descBrokerRecoveries = prometheus.NewDesc("nows_broker_recoveries_total",
		"Times publishing to the broker worked again after failing (a reconnection).", nil, nil)
	descBrokerUp = prometheus.NewDesc("nows_broker_up",
		"1 while the broker works, 0 while the hub reports an error (only with a broker).", nil, nil)
)

// Describe sends the descriptions of every metric. It implements
// prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descHandshakes, descMsgIn, descMsgOut,
		descBytesIn, descBytesOut, descCloses, descHooks, descDropped, descBlocked, descRooms, descMembers,
		descBrokerErrors, descBrokerRecoveries, descBrokerUp} {
		ch <- d
	}
}

// Collect sends the current value of every metric. It implements
// prometheus.Collector. The rooms are counted from the hub of the server
// given to Attach, if any.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for s := range m.handshakes {
		if n := m.handshakes[s].Load(); n > 0 {
			label := "other"
			if s != 0 {
				label = strconv.Itoa(s)
			}
			counter(descHandshakes, n, label)
		}
	}
	for _, r := range m.routeList() {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(r.conns.Load()), r.route)
		for t, name := range typeNames {
			counter(descMsgIn, r.msgIn[t].Load(), r.route, name)
			counter(descMsgOut, r.msgOut[t].Load(), r.route, name)
		}
		counter(descBytesIn, r.bytesIn.Load(), r.route)
		counter(descBytesOut, r.bytesOut.Load(), r.route)
		counter(descDropped, r.dropped.Load(), r.route)
		counter(descBlocked, r.blocked.Load(), r.route)
		for i := range r.hooks {
			if count, sum, buckets := r.hooks[i].cumulative(); count > 0 {
				ch <- prometheus.MustNewConstHistogram(descHooks, count, sum, buckets, r.route, hookNames[i])
			}
		}
	}
	for code := range m.closes {
		for cause := range m.closes[code] {
			if n := m.closes[code][cause].Load(); n > 0 {
				counter(descCloses, n, codeLabel(code), causeLabel(cause))
			}
		}
	}
	counter(descBrokerErrors, m.publishErrors.Load())
	counter(descBrokerRecoveries, m.recoveries.Load())
	hub := m.hub()
	if hub == nil {
		return
	}
	rooms, members := 0, 0
	for _, room := range hub.Rooms() {
		rooms++
		members += len(hub.Members(room))
	}
	ch <- prometheus.MustNewConstMetric(descRooms, prometheus.GaugeValue, float64(rooms))
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(members))
	if m.brokerConfigured() {
		up := 1.0
		if hub.Err() != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descBrokerUp, prometheus.GaugeValue, up)
	}
}

// hub returns the hub of the attached server, or nil.
func (m *Metrics) hub() *framework.Hub {
	if srv := m.srv.Load(); srv != nil {
		return srv.Hub()
	}
	return nil
}

// brokerConfigured reports whether the server has a broker: its hub
// publishes (a heartbeat at least every presence interval, and at once
// when it starts, which Attach does); a hub without one never does.
func (m *Metrics) brokerConfigured() bool {
	return m.published.Load()+m.publishErrors.Load() > 0
}

// routeList returns the record of every route registered on the attached
// server and of every route seen in an event, sorted by pattern.
func (m *Metrics) routeList() []*routeStats {
	if srv := m.srv.Load(); srv != nil {
		for _, ri := range srv.Routes() {
			m.route(ri.Template)
		}
	}
	var list []*routeStats
	m.routes.Range(func(_, v any) bool {
		list = append(list, v.(*routeStats))
		return true
	})
	slices.SortFunc(list, func(a, b *routeStats) int { return strings.Compare(a.route, b.route) })
	return list
}
