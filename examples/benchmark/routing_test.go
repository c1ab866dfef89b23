package benchmark

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/nowebsocket/nows/framework"
)

// Routing benchmarks: a request dispatched through ServeHTTP by nows
// (framework.Server), net/http.ServeMux patterns and chi, on the same
// route sets of 10, 100 and 1,000 routes, half static ("/svcN/status") and
// half with a parameter ("/svcN/room/{id}"). Each looks up the last route
// of its kind (the worst place in a list, a fair one in a tree), and a
// path that matches nothing.
//
// nows's router is internal since API 1.0, so its lookup alone cannot be
// timed from here any more; ServeHTTP is what an application pays before
// the upgrade anyway. The request is a plain GET, not a handshake: on a
// match nows checks the handshake headers and answers 426 Upgrade
// Required, and the peers' handler writes the same 426, so that every
// router does the same writing; a miss is the same 404 for all three.
//
//	go test -run '^$' -bench Route -benchmem

// idHandler is the nows route's handler. It runs only in TestRouteSets,
// which dials for real: it sends the id parameter it was given.
type idHandler struct{}

func (*idHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, c.Params().Str("id"))
}

func (*idHandler) OnMessage(context.Context, *framework.Conn, string) error { return nil }

var sizes = []int{10, 100, 1000}

// routeSet returns n route templates (without type annotations) and the
// static, parameter and missing paths to look up.
func routeSet(n int) (static, param []string, lookups map[string]string) {
	for i := range n / 2 {
		static = append(static, fmt.Sprintf("/svc%d/status", i))
		param = append(param, fmt.Sprintf("/svc%d/room/{id}", i))
	}
	last := n/2 - 1
	return static, param, map[string]string{
		"static": fmt.Sprintf("/svc%d/status", last),
		"param":  fmt.Sprintf("/svc%d/room/42", last),
		"miss":   fmt.Sprintf("/svc%d/nothing", last),
	}
}

var kinds = []string{"static", "param", "miss"}

// upgradeRequired is what nows answers a plain GET on a route; the peers'
// handlers answer the same.
func upgradeRequired(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Upgrade", "websocket")
	w.Header().Set("Connection", "Upgrade")
	http.Error(w, "this is a WebSocket endpoint: connect with a WebSocket client", http.StatusUpgradeRequired)
}

// nowsServer serves the route set, typ ("" or "int") on the parameter, and
// 404 for the rest.
func nowsServer(tb testing.TB, n int, typ string) *framework.Server {
	static, param, _ := routeSet(n)
	var routes []framework.RouteSpec
	for _, t := range static {
		routes = append(routes, framework.Route[idHandler](t))
	}
	for _, t := range param {
		if typ != "" {
			t = t[:len(t)-1] + ":" + typ + "}"
		}
		routes = append(routes, framework.Route[idHandler](t))
	}
	s := framework.NewServer(framework.Options{Fallback: http.NotFoundHandler(), Logger: slog.New(slog.DiscardHandler)})
	if err := s.Register(framework.NewBlueprint("", routes...)); err != nil {
		tb.Fatal(err)
	}
	return s
}

func serveMux(n int, h http.HandlerFunc) *http.ServeMux {
	static, param, _ := routeSet(n)
	mux := http.NewServeMux()
	for _, t := range append(static, param...) {
		mux.Handle("GET "+t, h)
	}
	return mux
}

func chiMux(n int, h http.HandlerFunc) *chi.Mux {
	static, param, _ := routeSet(n)
	mux := chi.NewRouter()
	for _, t := range append(static, param...) {
		mux.Get(t, h)
	}
	return mux
}

// TestRouteSets checks that the three routers agree on every lookup (the
// same status, the same id), so that the benchmarks compare the same work.
func TestRouteSets(t *testing.T) {
	for _, n := range sizes {
		_, _, lookups := routeSet(n)
		var muxID, chiID string
		ns := nowsServer(t, n, "")
		sm := serveMux(n, func(w http.ResponseWriter, r *http.Request) {
			muxID += r.PathValue("id")
			upgradeRequired(w, r)
		})
		cm := chiMux(n, func(w http.ResponseWriter, r *http.Request) {
			chiID += chi.URLParam(r, "id")
			upgradeRequired(w, r)
		})
		for _, kind := range kinds {
			path := lookups[kind]
			want := http.StatusUpgradeRequired
			if kind == "miss" {
				want = http.StatusNotFound
			}
			for name, h := range map[string]http.Handler{"nows": ns, "ServeMux": sm, "chi": cm} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != want {
					t.Errorf("%s %d %s: got %d, want %d", name, n, path, w.Code, want)
				}
			}
		}
		if muxID != "42" || chiID != "42" {
			t.Errorf("%d: got id %q from ServeMux and %q from chi, want 42", n, muxID, chiID)
		}
		// nows's parameters reach a handler only over a real connection.
		hs := httptest.NewServer(ns)
		c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(hs.URL, "http")+lookups["param"], nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, id, err := c.Read(t.Context()); err != nil || string(id) != "42" {
			t.Errorf("nows %d: got id %q, %v; want 42", n, id, err)
		}
		c.CloseNow()
		if err := ns.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
		hs.Close()
	}
}

// discard is a ResponseWriter that keeps nothing, reused across
// iterations so that the benchmarks time the routers, not the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkRoute(b *testing.B) {
	bench := func(b *testing.B, h http.Handler, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	for _, n := range sizes {
		_, _, lookups := routeSet(n)
		ns, nsInt := nowsServer(b, n, ""), nowsServer(b, n, "int")
		sm, cm := serveMux(n, upgradeRequired), chiMux(n, upgradeRequired)
		for _, kind := range kinds {
			path := lookups[kind]
			b.Run(fmt.Sprintf("%d/%s/nows", n, kind), func(b *testing.B) { bench(b, ns, path) })
			if kind == "param" {
				b.Run(fmt.Sprintf("%d/%s/nows-int", n, kind), func(b *testing.B) { bench(b, nsInt, path) })
			}
			b.Run(fmt.Sprintf("%d/%s/servemux", n, kind), func(b *testing.B) { bench(b, sm, path) })
			b.Run(fmt.Sprintf("%d/%s/chi", n, kind), func(b *testing.B) { bench(b, cm, path) })
		}
	}
}
