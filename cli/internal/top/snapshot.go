// Package top is `nows top`: the admin dashboard's picture in a terminal.
// It polls GET /api/snapshot on an app's admin listener, computes rates
// from successive snapshots and prints the busiest routes, the largest
// rooms, the close codes, queue drops and the broker's state: redrawn in
// place on a terminal, one plain frame after another when piped.
package top

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Snapshot is the JSON of GET /api/snapshot on the admin listener. All
// counters are totals since the server started.
type Snapshot struct {
	Time         time.Time        `json:"time"`
	Started      time.Time        `json:"started"`
	Node         string           `json:"node"`
	Connections  int64            `json:"connections"`
	Handshakes   map[string]int64 `json:"handshakes"` // by HTTP status: "101" accepted
	Routes       []Route          `json:"routes"`     // sorted by pattern
	Closes       []Close          `json:"closes"`     // largest count first
	QueueDropped int64            `json:"queue_dropped"`
	Rooms        Rooms            `json:"rooms"`
	Broker       Broker           `json:"broker"`
}

// Route is one registered route pattern.
type Route struct {
	Route       string          `json:"route"`
	Connections int64           `json:"connections"`
	Opened      int64           `json:"opened"`
	Closed      int64           `json:"closed"`
	MessagesIn  int64           `json:"messages_in"`
	MessagesOut int64           `json:"messages_out"`
	BytesIn     int64           `json:"bytes_in"`
	BytesOut    int64           `json:"bytes_out"`
	TextIn      int64           `json:"text_in"`
	BinaryIn    int64           `json:"binary_in"`
	Hooks       map[string]Hook `json:"hooks"` // by hook name: OnMessage, OnOpen...
}

// Hook is the time spent in one hook of a route.
type Hook struct {
	Count      int64   `json:"count"`
	SumSeconds float64 `json:"sum_seconds"`
}

// Close counts the connections closed with one code and cause.
type Close struct {
	Code  int    `json:"code"`
	Cause string `json:"cause"`
	Count int64  `json:"count"`
}

// Rooms is the number of rooms and members, and one page of the rooms,
// largest first.
type Rooms struct {
	Count   int64  `json:"count"`
	Members int64  `json:"members"`
	Page    int    `json:"page"`
	PerPage int    `json:"per_page"`
	Largest []Room `json:"largest"`
}

// Room is one room and its number of members.
type Room struct {
	Room    string `json:"room"`
	Members int64  `json:"members"`
}

// Broker is the state of the broker that links the nodes, if any.
type Broker struct {
	Configured    bool   `json:"configured"`
	OK            bool   `json:"ok"`
	Error         string `json:"error"`
	Published     int64  `json:"published"`
	PublishErrors int64  `json:"publish_errors"`
}

// DefaultURL is the admin listener of an app started with its defaults.
const DefaultURL = "http://127.0.0.1:8766"

// BaseURL turns the ADMIN_URL argument into a base URL: a missing scheme
// is http, a trailing slash is dropped ("127.0.0.1:8766/" becomes
// "http://127.0.0.1:8766").
func BaseURL(arg string) (string, error) {
	if arg == "" {
		arg = DefaultURL
	}
	if !strings.Contains(arg, "://") {
		arg = "http://" + arg
	}
	u, err := url.Parse(arg)
	if err != nil {
		return "", fmt.Errorf("ADMIN_URL %q: %v", arg, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("ADMIN_URL %q: want an http:// or https:// URL", arg)
	}
	if u.Host == "" {
		return "", fmt.Errorf("ADMIN_URL %q: no host", arg)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// Fetch gets one snapshot from the admin listener at base, with the first
// page of rooms holding rooms rooms. Its errors are sentences for the
// user: they name the URL and, when nothing answers, the app's flag.
func Fetch(ctx context.Context, client *http.Client, base string, rooms int) (*Snapshot, error) {
	u := base + "/api/snapshot?page=1&per_page=" + strconv.Itoa(rooms)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin listener at %s: %s: is the app running with --admin-addr (NOWS_ADMIN_ADDR)?", base, reason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot from %s: %s", base, reason(err))
	}
	if resp.StatusCode != http.StatusOK {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(line) > 200 {
			line = line[:200] + "…"
		}
		msg := fmt.Sprintf("the admin listener at %s answered GET /api/snapshot with %s", base, resp.Status)
		if line != "" {
			msg += ": " + line
		}
		if resp.StatusCode == http.StatusNotFound {
			msg += ": is this the app's admin address (--admin-addr, NOWS_ADMIN_ADDR), not its WebSocket address?"
		}
		return nil, errors.New(msg)
	}
	var snap Snapshot
	if err := json.Unmarshal(body, &snap); err != nil {
		return nil, fmt.Errorf("the admin listener at %s sent something that is not a snapshot: %v", base, err)
	}
	return &snap, nil
}

// reason says in a few words why a request failed.
func reason(err error) string {
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case errors.As(err, &dns):
		return "unknown host " + dns.Name
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
