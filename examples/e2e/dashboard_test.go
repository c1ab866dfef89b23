package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashboardDir holds the admin dashboard's static files, as the admin
// listener embeds them.
var dashboardDir = filepath.Join("..", "..", "framework", "admin", "dashboard")

// TestDashboard drives the admin dashboard in a real browser against a
// synthetic /api/snapshot at the scale it must stay readable at (100,000
// connections, 10,000 rooms), whose counters grow with every request: the
// numbers must change without a reload, the rooms come largest first one
// page at a time, an outage shows a banner and ends when the server
// answers again, and the page logs no error.
func TestDashboard(t *testing.T) {
	synth := newSynthServer(10 * time.Second)
	url := serveDashboard(t, synth)
	ctx := newTab(t)
	console := watchConsole(t, ctx)

	run(t, ctx, "open the dashboard",
		chromedp.EmulateViewport(1280, 1440),
		chromedp.Navigate(url+"/"),
		// Rates need two snapshots.
		waitJS("the first rates", `Number(document.getElementById("msgs-in").dataset.value) > 0`),
	)
	a := readDashboard(t, ctx)
	run(t, ctx, "let the load run", chromedp.Sleep(2*time.Second))
	b := readDashboard(t, ctx)

	// The numbers change while the load runs.
	if a.Connections == b.Connections {
		t.Errorf("connections stayed %s over 2 s; the synthetic server changes them with every snapshot", a.Connections)
	}
	if a.MsgsInTotal == b.MsgsInTotal {
		t.Errorf("total messages in stayed %q over 2 s", a.MsgsInTotal)
	}
	if strings.Join(a.Routes, "\n") == strings.Join(b.Routes, "\n") {
		t.Errorf("the route table did not change over 2 s:\n%s", strings.Join(b.Routes, "\n"))
	}
	// Readable at 100,000 connections: short numbers, rates per second of
	// the snapshots' clock (the synthetic one runs 10 s per snapshot).
	if n, err := strconv.Atoi(b.Connections); err != nil || n < 95_000 || n > 110_000 {
		t.Errorf("connections data-value %q, want about 100,000", b.Connections)
	}
	for what, re := range map[string]string{
		b.ConnText:  `^\d+(\.\d)?k$`,
		b.MsgsIn:    `^\d+(\.\d)?k$`,
		b.BytesOut:  `^\d+(\.\d)? (kB|MB|GB)/s$`,
		b.RoomsInfo: `^10\.0k rooms, \d+(\.\d)?k members; largest first$`,
		b.RoomsPage: `^page 1 of 500$`,
	} {
		if !regexp.MustCompile(re).MatchString(what) {
			t.Errorf("shown %q, want it to match %s", what, re)
		}
	}
	if b.MsgsInRate < 40_000 || b.MsgsInRate > 80_000 {
		t.Errorf("messages in per second %.0f, want 40,000 to 80,000 (the synthetic load per second of snapshot time)", b.MsgsInRate)
	}
	if len(b.Routes) != len(synthRoutes) || !strings.HasPrefix(b.Routes[0], "/chat/{room}") {
		t.Errorf("route table, busiest first:\n%s\nwant %d routes, /chat/{room} first", strings.Join(b.Routes, "\n"), len(synthRoutes))
	}
	if len(b.Closes) == 0 || b.Closes[0][0] != "1001" {
		t.Errorf("close codes %v, want 1001 (the most frequent) first", b.Closes)
	}
	if !strings.HasPrefix(b.Broker, "ok") {
		t.Errorf("broker %q, want ok", b.Broker)
	}

	// The rooms: one page at a time, largest first, and the next page.
	checkRooms(t, b.Rooms, 1)
	if b.Rooms[0].Room != "lobby" || b.Rooms[0].Members != 5000 {
		t.Errorf("first room %+v, want lobby with 5000 members", b.Rooms[0])
	}
	run(t, ctx, "next rooms page",
		chromedp.Click(chromedp.ID("rooms-next")),
		waitJS("page 2", `document.getElementById("rooms-page").dataset.page === "2"`),
	)
	p2 := readDashboard(t, ctx)
	checkRooms(t, p2.Rooms, 2)
	if want := synth.rooms[20].Room; p2.Rooms[0].Room != want {
		t.Errorf("page 2 starts with %q, want %q", p2.Rooms[0].Room, want)
	}
	if last := b.Rooms[len(b.Rooms)-1].Members; p2.Rooms[0].Members > last {
		t.Errorf("page 2 starts with %d members, more than the end of page 1 (%d)", p2.Rooms[0].Members, last)
	}
	if !synth.sawPage(2) {
		t.Errorf("the server was never asked for page 2")
	}
	run(t, ctx, "back to rooms page 1",
		chromedp.Click(chromedp.ID("rooms-prev")),
		waitJS("page 1", `document.getElementById("rooms-page").dataset.page === "1"`),
	)

	// A minute of synthetic history in the charts (7 snapshots, 10 s
	// apart), then the screenshot.
	for deadline := time.Now().Add(10 * time.Second); synth.requests() < 8; {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard polled %d times, want 8 within 10 s", synth.requests())
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(t, ctx, "scroll to the top", chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0), {}"), chromedp.Sleep(200*time.Millisecond))
	png := screenshot(t, ctx, "dashboard.png")
	if os.Getenv("NOWS_UPDATE_SCREENSHOTS") == "1" {
		dst := filepath.Join("..", "..", "docs", "img", "dashboard.png")
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", dst)
	}
	for _, m := range console.errors(false) {
		t.Errorf("console: %s", m)
	}

	// An outage: a banner naming the URL, retries, and back to live.
	synth.setFailing(true)
	run(t, ctx, "the server fails",
		waitText("#banner", "Cannot reach the server at "+url+"/api/snapshot"),
		waitText("#status", "unreachable"),
		waitText("#banner", "retrying every 1 s"),
	)
	screenshot(t, ctx, "dashboard-unreachable.png")
	synth.setFailing(false)
	run(t, ctx, "the server answers again",
		waitJS("the banner to go", `document.getElementById("banner").hidden`),
		waitText("#status", "live"),
	)
	// The browser logs each failed request (503) itself: only the page's
	// own errors count now.
	for _, m := range console.errors(true) {
		t.Errorf("console after the outage: %s", m)
	}
}

// serveDashboard serves the dashboard's files at / and api at
// /api/snapshot on 127.0.0.1, and returns the base URL.
func serveDashboard(t *testing.T, api http.Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/snapshot", api)
	mux.Handle("/", http.FileServer(http.Dir(dashboardDir)))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts.URL
}

// dashboardView is what the dashboard shows, read from its DOM.
type dashboardView struct {
	Connections string      `json:"connections"` // exact, from data-value
	ConnText    string      `json:"connText"`
	MsgsIn      string      `json:"msgsIn"`
	MsgsInRate  float64     `json:"msgsInRate"`
	MsgsInTotal string      `json:"msgsInTotal"`
	BytesOut    string      `json:"bytesOut"`
	Broker      string      `json:"broker"`
	Routes      []string    `json:"routes"` // each row's cells, tab-separated
	Closes      [][]string  `json:"closes"`
	Rooms       []shownRoom `json:"rooms"`
	RoomsInfo   string      `json:"roomsInfo"`
	RoomsPage   string      `json:"roomsPage"`
}

// shownRoom is one row of the rooms table.
type shownRoom struct {
	Rank    string `json:"rank"`
	Room    string `json:"room"`
	Members int64  `json:"members"`
}

const readDashboardJS = `(() => {
  const q = (id) => document.getElementById(id);
  const rows = (id) => [...q(id).tBodies[0].rows];
  return {
    connections: q("connections").dataset.value || "",
    connText: q("connections").textContent,
    msgsIn: q("msgs-in").textContent,
    msgsInRate: Number(q("msgs-in").dataset.value || 0),
    msgsInTotal: q("msgs-in-total").textContent,
    bytesOut: q("bytes-out").textContent,
    broker: q("broker").textContent,
    routes: rows("routes").map((r) => [...r.cells].map((c) => c.textContent).join("\t")),
    closes: rows("closes").map((r) => [...r.cells].map((c) => c.textContent)),
    rooms: rows("rooms").filter((r) => r.cells.length === 4).map((r) => ({
      rank: r.cells[0].textContent, room: r.cells[1].textContent, members: Number(r.cells[2].dataset.value),
    })),
    roomsInfo: q("rooms-summary").textContent,
    roomsPage: q("rooms-page").textContent,
  };
})()`

func readDashboard(t *testing.T, ctx context.Context) dashboardView {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[dashboardView](readDashboardJS))
	if err != nil {
		t.Fatalf("read the dashboard: %v", err)
	}
	return v
}

// checkRooms checks one page of 20 rooms: ranked from (page-1)*20+1,
// largest first.
func checkRooms(t *testing.T, rooms []shownRoom, page int) {
	t.Helper()
	if len(rooms) != 20 {
		t.Fatalf("page %d shows %d rooms, want one page of 20", page, len(rooms))
	}
	for i, r := range rooms {
		if want := strconv.Itoa((page-1)*20 + i + 1); r.Rank != want {
			t.Errorf("page %d row %d: rank %q, want %s", page, i, r.Rank, want)
		}
		if i > 0 && r.Members > rooms[i-1].Members {
			t.Errorf("page %d: %s (%d members) after %s (%d): not largest first", page, r.Room, r.Members, rooms[i-1].Room, rooms[i-1].Members)
		}
	}
}

// waitJS waits until the JavaScript expression is true.
func waitJS(what, expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
		if err != nil {
			return fmt.Errorf("waiting for %s (%s): %w", what, expr, err)
		}
		return nil
	})
}

// pageConsole records what a tab writes to its console.
type pageConsole struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// watchConsole records the tab's console messages (console API calls,
// uncaught exceptions, the browser's log) until the test ends.
func watchConsole(t *testing.T, ctx context.Context) *pageConsole {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	msgs := chromedp.Console(ctx)
	pc := &pageConsole{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			pc.mu.Lock()
			pc.msgs = append(pc.msgs, m)
			pc.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return pc
}

// errors returns the errors and exceptions logged so far, and forgets
// them. pageOnly leaves out the browser's network log (a failed request).
func (pc *pageConsole) errors(pageOnly bool) []string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	var out []string
	for _, m := range pc.msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
			continue
		}
		if pageOnly && m.Source == "network" {
			continue
		}
		out = append(out, m.String()+" ("+m.URL+":"+strconv.FormatInt(m.Line+1, 10)+")")
	}
	pc.msgs = nil
	return out
}
