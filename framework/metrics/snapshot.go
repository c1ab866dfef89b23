package metrics

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxPerPage bounds the rooms of one page of Snapshot.
const MaxPerPage = 500

// Snapshot returns the JSON document the admin listener serves at
// /api/snapshot, which the dashboard and nows top read: the counters since
// New, per route and in total, the close codes most frequent first, page
// page (from 1) of the rooms largest first, perPage (1 to MaxPerPage) to
// a page, and the broker's state. docs/observability.md describes each
// field. It fails only on a page or perPage out of range.
func (m *Metrics) Snapshot(page, perPage int) ([]byte, error) {
	if page < 1 {
		return nil, fmt.Errorf("page %d: want 1 or more", page)
	}
	if perPage < 1 || perPage > MaxPerPage {
		return nil, fmt.Errorf("per_page %d: want 1 to %d", perPage, MaxPerPage)
	}
	s := snapshot{
		Time:       time.Now().UTC(),
		Started:    m.started.UTC(),
		Handshakes: map[string]uint64{},
		Routes:     []routeSnap{},
		Closes:     []closeSnap{},
		Rooms:      roomsSnap{Page: page, PerPage: perPage, Largest: []roomSnap{}},
		Broker:     brokerSnap{OK: true},
	}
	for st := range m.handshakes {
		if n := m.handshakes[st].Load(); n > 0 {
			s.Handshakes[strconv.Itoa(st)] = n
		}
	}
	for _, r := range m.routeList() {
		rs := routeSnap{
			Route: r.route, Connections: r.conns.Load(), Opened: r.opened.Load(), Closed: r.closed.Load(),
			TextIn: r.msgIn[0].Load(), BinaryIn: r.msgIn[1].Load(),
			MessagesOut: r.msgOut[0].Load() + r.msgOut[1].Load(),
			BytesIn:     r.bytesIn.Load(), BytesOut: r.bytesOut.Load(),
			Hooks: map[string]hookSnap{},
		}
		rs.MessagesIn = rs.TextIn + rs.BinaryIn
		for i := range r.hooks {
			if count, sum, _ := r.hooks[i].cumulative(); count > 0 {
				rs.Hooks[hookNames[i]] = hookSnap{Count: count, SumSeconds: sum}
			}
		}
		s.Connections += rs.Connections
		s.QueueDropped += r.dropped.Load()
		s.Routes = append(s.Routes, rs)
	}
	for code := range m.closes {
		for cause := range m.closes[code] {
			if n := m.closes[code][cause].Load(); n > 0 {
				s.Closes = append(s.Closes, closeSnap{Code: codeNumber(code), Cause: causeLabel(cause), Count: n})
			}
		}
	}
	slices.SortStableFunc(s.Closes, func(a, b closeSnap) int { return cmp.Compare(b.Count, a.Count) })
	s.Broker.Published, s.Broker.PublishErrors = m.published.Load(), m.publishErrors.Load()
	s.Broker.Configured = m.brokerConfigured()
	if hub := m.hub(); hub != nil {
		s.Node = hub.Node()
		rooms := hub.Rooms()
		all := make([]roomSnap, len(rooms))
		for i, room := range rooms {
			all[i] = roomSnap{Room: room, Members: len(hub.Members(room))}
			s.Rooms.Members += all[i].Members
		}
		s.Rooms.Count = len(all)
		slices.SortFunc(all, func(a, b roomSnap) int {
			return cmp.Or(cmp.Compare(b.Members, a.Members), strings.Compare(a.Room, b.Room))
		})
		if from := (page - 1) * perPage; from < len(all) {
			s.Rooms.Largest = all[from:min(from+perPage, len(all))]
		}
		if err := hub.Err(); err != nil && s.Broker.Configured {
			s.Broker.OK, s.Broker.Error = false, err.Error()
		}
	}
	return json.Marshal(s)
}

// snapshot is the document of Snapshot; the field names are a contract
// with the dashboard and nows top.
type snapshot struct {
	Time         time.Time         `json:"time"`
	Started      time.Time         `json:"started"`
	Node         string            `json:"node"`
	Connections  int64             `json:"connections"`
	Handshakes   map[string]uint64 `json:"handshakes"`
	Routes       []routeSnap       `json:"routes"`
	Closes       []closeSnap       `json:"closes"`
	QueueDropped uint64            `json:"queue_dropped"`
	Rooms        roomsSnap         `json:"rooms"`
	Broker       brokerSnap        `json:"broker"`
}

type routeSnap struct {
	Route       string              `json:"route"`
	Connections int64               `json:"connections"`
	Opened      uint64              `json:"opened"`
	Closed      uint64              `json:"closed"`
	MessagesIn  uint64              `json:"messages_in"`
	MessagesOut uint64              `json:"messages_out"`
	BytesIn     uint64              `json:"bytes_in"`
	BytesOut    uint64              `json:"bytes_out"`
	TextIn      uint64              `json:"text_in"`
	BinaryIn    uint64              `json:"binary_in"`
	Hooks       map[string]hookSnap `json:"hooks"`
}

type hookSnap struct {
	Count      uint64  `json:"count"`
	SumSeconds float64 `json:"sum_seconds"`
}

type closeSnap struct {
	Code  int    `json:"code"`
	Cause string `json:"cause"`
	Count uint64 `json:"count"`
}

type roomsSnap struct {
	Count   int        `json:"count"`
	Members int        `json:"members"`
	Page    int        `json:"page"`
	PerPage int        `json:"per_page"`
	Largest []roomSnap `json:"largest"`
}

type roomSnap struct {
	Room    string `json:"room"`
	Members int    `json:"members"`
}

type brokerSnap struct {
	Configured    bool   `json:"configured"`
	OK            bool   `json:"ok"`
	Error         string `json:"error"`
	Published     uint64 `json:"published"`
	PublishErrors uint64 `json:"publish_errors"`
}
