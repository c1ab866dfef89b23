package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The JSON of GET /api/snapshot on the admin listener, as the dashboard
// reads it. The synthetic server below answers in exactly this shape.
type snapshot struct {
	Time         time.Time        `json:"time"`
	Started      time.Time        `json:"started"`
	Node         string           `json:"node"`
	Connections  int64            `json:"connections"`
	Handshakes   map[string]int64 `json:"handshakes"`
	Routes       []snapRoute      `json:"routes"`
	Closes       []snapClose      `json:"closes"`
	QueueDropped int64            `json:"queue_dropped"`
	Rooms        snapRooms        `json:"rooms"`
	Broker       snapBroker       `json:"broker"`
}

type snapRoute struct {
	Route       string              `json:"route"`
	Connections int64               `json:"connections"`
	Opened      int64               `json:"opened"`
	Closed      int64               `json:"closed"`
	MessagesIn  int64               `json:"messages_in"`
	MessagesOut int64               `json:"messages_out"`
	BytesIn     int64               `json:"bytes_in"`
	BytesOut    int64               `json:"bytes_out"`
	TextIn      int64               `json:"text_in"`
	BinaryIn    int64               `json:"binary_in"`
	Hooks       map[string]snapHook `json:"hooks"`
}

type snapHook struct {
	Count      int64   `json:"count"`
	SumSeconds float64 `json:"sum_seconds"`
}

type snapClose struct {
	Code  int    `json:"code"`
	Cause string `json:"cause"`
	Count int64  `json:"count"`
}

type snapRooms struct {
	Count   int64      `json:"count"`
	Members int64      `json:"members"`
	Page    int        `json:"page"`
	PerPage int        `json:"per_page"`
	Largest []snapRoom `json:"largest"`
}

type snapRoom struct {
	Room    string `json:"room"`
	Members int64  `json:"members"`
}

type snapBroker struct {
	Configured    bool   `json:"configured"`
	OK            bool   `json:"ok"`
	Error         string `json:"error"`
	Published     int64  `json:"published"`
	PublishErrors int64  `json:"publish_errors"`
}

// synthRooms is the number of rooms of the synthetic server.
const synthRooms = 10_000

// synthServer answers GET /api/snapshot with a synthetic snapshot of a
// server under load at the scale the dashboard must stay readable at:
// about 100,000 connections on five routes and 10,000 rooms. Every
// request is one step of the load: its clock moves step ahead (so that a
// test fills minutes of charts in seconds) and the counters grow by an
// amount that varies from step to step. It validates page and per_page as
// the real admin listener does.
type synthServer struct {
	step time.Duration

	mu      sync.Mutex
	n       int64     // requests answered
	start   time.Time // the synthetic server's start
	failing bool      // answer 503 to every request
	pages   map[int]bool
	snap    snapshot // the counters so far
	rooms   []snapRoom
}

var synthRoutes = []struct {
	route  string
	share  int64 // of 1000 connections
	msgIn  int64 // messages in per connection per step, in thousandths
	fanout int64 // messages out per message in
	size   int64 // bytes per message
}{
	{"/admin/ws", 2, 50, 1, 200},
	{"/chat/{room}", 700, 400, 20, 120},
	{"/echo", 150, 1000, 1, 64},
	{"/feed/{topic}", 140, 20, 200, 900},
	{"/upload/{id:int}", 8, 100, 1, 64 << 10},
}

func newSynthServer(step time.Duration) *synthServer {
	s := &synthServer{step: step, start: time.Now().Add(-3 * time.Hour).Truncate(time.Second), pages: map[int]bool{}}
	s.snap = snapshot{
		Started:    s.start,
		Node:       "5b2f72bf1e04",
		Handshakes: map[string]int64{"101": 0, "403": 17, "404": 42},
		Broker:     snapBroker{Configured: true, OK: true},
	}
	for _, r := range synthRoutes {
		s.snap.Routes = append(s.snap.Routes, snapRoute{Route: r.route, Hooks: map[string]snapHook{}})
	}
	// 10,000 rooms: a lobby of 5,000 and a long tail, about 100,000
	// members in all.
	s.rooms = make([]snapRoom, synthRooms)
	s.rooms[0] = snapRoom{Room: "lobby", Members: 5000}
	for i := 1; i < synthRooms; i++ {
		s.rooms[i] = snapRoom{Room: fmt.Sprintf("room-%05d", i), Members: int64(2 + 12000/(i+10))}
	}
	return s
}

// setFailing makes the server answer 503 (true) or snapshots (false).
func (s *synthServer) setFailing(f bool) {
	s.mu.Lock()
	s.failing = f
	s.mu.Unlock()
}

// requests returns the number of snapshots answered.
func (s *synthServer) requests() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// sawPage reports whether a request asked for the rooms page p.
func (s *synthServer) sawPage(p int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pages[p]
}

func (s *synthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, perPage := 1, 50
	q := r.URL.Query()
	var err error
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			http.Error(w, "page must be a number from 1", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("per_page"); v != "" {
		if perPage, err = strconv.Atoi(v); err != nil || perPage < 1 || perPage > 500 {
			http.Error(w, "per_page must be a number from 1 to 500", http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	if s.failing {
		s.mu.Unlock()
		http.Error(w, "synthetic outage", http.StatusServiceUnavailable)
		return
	}
	s.pages[page] = true
	snap := s.next()
	s.mu.Unlock()

	snap.Rooms.Page, snap.Rooms.PerPage = page, perPage
	if lo := (page - 1) * perPage; lo < len(s.rooms) {
		snap.Rooms.Largest = s.rooms[lo:min(lo+perPage, len(s.rooms))]
	} else {
		snap.Rooms.Largest = []snapRoom{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(snap)
}

// next advances the load by one step and returns a copy of the snapshot
// (rooms not filled in). s.mu is held.
func (s *synthServer) next() snapshot {
	s.n++
	n := s.n
	snap := s.snap
	snap.Time = s.start.Add(3*time.Hour + time.Duration(n)*s.step)
	// 100,000 connections give or take a few thousand, changing each step.
	total := 100_000 + (n%9)*700 - (n%4)*900
	snap.Connections = 0
	routes := make([]snapRoute, len(s.snap.Routes))
	for i, def := range synthRoutes {
		r := s.snap.Routes[i]
		conns := total * def.share / 1000
		// Connections come and go: closed grows by the churn and by the
		// drop in connections, opened is always closed plus open.
		churn := conns/200 + n%7
		if r.Connections == 0 {
			r.Closed = conns / 20
		} else {
			r.Closed += churn + max(0, r.Connections-conns)
		}
		r.Opened = r.Closed + conns
		r.Connections = conns
		in := conns * def.msgIn * (1000 + (n%5)*150) / 1_000_000 * int64(s.step/time.Second)
		r.MessagesIn += in
		r.TextIn += in * 9 / 10
		r.BinaryIn = r.MessagesIn - r.TextIn
		r.MessagesOut += in * def.fanout
		r.BytesIn += in * def.size
		r.BytesOut += in * def.fanout * def.size
		hooks := map[string]snapHook{}
		for k, v := range r.Hooks {
			hooks[k] = v
		}
		h := hooks["OnMessage"]
		h.Count += in
		h.SumSeconds += float64(in) * 42e-6 * float64(1+i%3)
		hooks["OnMessage"] = h
		o := hooks["OnOpen"]
		o.Count += churn
		o.SumSeconds += float64(churn) * 180e-6
		hooks["OnOpen"] = o
		r.Hooks = hooks
		routes[i] = r
		snap.Connections += conns
	}
	var opened, closed int64
	for _, r := range routes {
		opened += r.Opened
		closed += r.Closed
	}
	snap.Routes = routes
	snap.Handshakes = map[string]int64{"101": opened, "403": 17 + n/5, "404": 42}
	snap.Closes = []snapClose{
		{Code: 1001, Cause: "going away", Count: closed * 6 / 10},
		{Code: 1000, Cause: "peer closed", Count: closed * 3 / 10},
		{Code: 1006, Cause: "abnormal closure", Count: closed - closed*6/10 - closed*3/10 - closed/100 - closed/400},
		{Code: 1009, Cause: "message too big", Count: closed / 100},
		{Code: 1011, Cause: "handler error", Count: closed / 400},
		{Code: 4000, Cause: "app: kicked", Count: 3},
	}
	slices.SortStableFunc(snap.Closes, func(a, b snapClose) int { return cmp.Compare(b.Count, a.Count) })
	snap.QueueDropped = s.snap.QueueDropped + n%3
	var members int64
	for _, r := range s.rooms {
		members += r.Members
	}
	snap.Rooms = snapRooms{Count: int64(len(s.rooms)), Members: members}
	snap.Broker.Published = s.snap.Broker.Published + 250 + n%50
	s.snap = snap
	return snap
}

// TestSynthServer checks the synthetic load itself: counters that only
// grow, opened = closed + open, about 100,000 connections, close codes
// most frequent first, 10,000 rooms largest first, one page at a time.
func TestSynthServer(t *testing.T) {
	t.Parallel()
	s := newSynthServer(10 * time.Second)
	get := func(query string) (snapshot, int) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/snapshot?"+query, nil))
		var snap snapshot
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
				t.Fatal(err)
			}
		}
		return snap, rec.Code
	}
	var prev snapshot
	for i := range 30 {
		snap, code := get("page=1&per_page=20")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		if snap.Connections < 95_000 || snap.Connections > 110_000 {
			t.Errorf("snapshot %d: %d connections, want about 100,000", i, snap.Connections)
		}
		var conns int64
		for j, r := range snap.Routes {
			conns += r.Connections
			if r.Opened != r.Closed+r.Connections || r.Closed < 0 {
				t.Errorf("snapshot %d %s: opened %d, closed %d, open %d", i, r.Route, r.Opened, r.Closed, r.Connections)
			}
			if i > 0 {
				p := prev.Routes[j]
				if r.Opened < p.Opened || r.Closed < p.Closed || r.MessagesIn <= p.MessagesIn || r.BytesOut <= p.BytesOut {
					t.Errorf("snapshot %d %s: a counter went down or stood still: %+v after %+v", i, r.Route, r, p)
				}
			}
		}
		if conns != snap.Connections {
			t.Errorf("snapshot %d: routes hold %d connections, total %d", i, conns, snap.Connections)
		}
		if i > 0 && !snap.Time.After(prev.Time) {
			t.Errorf("snapshot %d: time %v not after %v", i, snap.Time, prev.Time)
		}
		for j, c := range snap.Closes {
			if c.Count < 0 || (j > 0 && c.Count > snap.Closes[j-1].Count) {
				t.Errorf("snapshot %d: close codes %+v not most frequent first", i, snap.Closes)
			}
		}
		prev = snap
	}
	if prev.Rooms.Count != synthRooms || len(prev.Rooms.Largest) != 20 || prev.Rooms.Largest[0].Room != "lobby" {
		t.Errorf("rooms %d, page of %d, first %+v", prev.Rooms.Count, len(prev.Rooms.Largest), prev.Rooms.Largest[0])
	}
	p2, _ := get("page=2&per_page=20")
	if p2.Rooms.Page != 2 || p2.Rooms.Largest[0] != s.rooms[20] || p2.Rooms.Largest[0].Members > prev.Rooms.Largest[19].Members {
		t.Errorf("page 2 starts with %+v (page %d), want %+v", p2.Rooms.Largest[0], p2.Rooms.Page, s.rooms[20])
	}
	if last, _ := get("page=501&per_page=20"); len(last.Rooms.Largest) != 0 {
		t.Errorf("page 501 of 500 has %d rooms", len(last.Rooms.Largest))
	}
	for _, q := range []string{"page=0", "per_page=501", "page=x"} {
		if _, code := get(q); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, code)
		}
	}
}
