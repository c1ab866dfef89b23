package benchmark

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/nowebsocket/nows/framework"
)

// Route matching micro-benchmarks: nows (framework.Router), net/http.ServeMux
// patterns and chi, on the same route sets of 10, 100 and 1,000 routes,
// half static ("/svcN/status") and half with a parameter
// ("/svcN/room/{id}"). Each looks up the last route of its kind (the worst
// place in a list, a fair one in a tree), and a path that matches nothing.
// Only the lookup is measured: no handler runs.
//
//	go test -run '^$' -bench Route -benchmem

type noopHandler struct{}

func (*noopHandler) OnMessage(context.Context, *framework.Conn, string) error { return nil }

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

func nowsRouter(tb testing.TB, n int, typ string) *framework.Router {
	static, param, _ := routeSet(n)
	var routes []framework.RouteSpec
	for _, t := range static {
		routes = append(routes, framework.Route[noopHandler](t))
	}
	for _, t := range param {
		if typ != "" {
			t = t[:len(t)-1] + ":" + typ + "}"
		}
		routes = append(routes, framework.Route[noopHandler](t))
	}
	r := framework.NewRouter()
	if err := r.Register(framework.NewBlueprint("", routes...)); err != nil {
		tb.Fatal(err)
	}
	return r
}

func serveMux(n int) *http.ServeMux {
	static, param, _ := routeSet(n)
	mux := http.NewServeMux()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, t := range append(static, param...) {
		mux.Handle("GET "+t, h)
	}
	return mux
}

func chiMux(n int) *chi.Mux {
	static, param, _ := routeSet(n)
	mux := chi.NewRouter()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, t := range append(static, param...) {
		mux.Get(t, h)
	}
	return mux
}

// TestRouteSets checks that the three routers agree on every lookup, so
// that the benchmarks compare the same work.
func TestRouteSets(t *testing.T) {
	for _, n := range sizes {
		_, _, lookups := routeSet(n)
		nr, sm, cm := nowsRouter(t, n, ""), serveMux(n), chiMux(n)
		for _, kind := range kinds {
			path := lookups[kind]
			want := kind != "miss"
			_, ps, ok := nr.Match(path)
			if ok != want {
				t.Errorf("nows %d %s: got match %v, want %v", n, path, ok, want)
			}
			if kind == "param" && ps.Str("id") != "42" {
				t.Errorf("nows %d %s: got id %q, want 42", n, path, ps.Str("id"))
			}
			req := &http.Request{Method: "GET", URL: &url.URL{Path: path}}
			_, pat := sm.Handler(req)
			if (pat != "") != want {
				t.Errorf("ServeMux %d %s: got pattern %q, want match %v", n, path, pat, want)
			}
			rctx := chi.NewRouteContext()
			if (cm.Find(rctx, "GET", path) != "") != want {
				t.Errorf("chi %d %s: got no match, want %v", n, path, want)
			}
			if kind == "param" && rctx.URLParam("id") != "42" {
				t.Errorf("chi %d %s: got id %q, want 42", n, path, rctx.URLParam("id"))
			}
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	for _, n := range sizes {
		_, _, lookups := routeSet(n)
		nr, nrInt, sm, cm := nowsRouter(b, n, ""), nowsRouter(b, n, "int"), serveMux(n), chiMux(n)
		for _, kind := range kinds {
			path := lookups[kind]
			b.Run(fmt.Sprintf("%d/%s/nows", n, kind), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, ps, _ := nr.Match(path)
					_ = ps
				}
			})
			if kind == "param" {
				b.Run(fmt.Sprintf("%d/%s/nows-int", n, kind), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_, ps, _ := nrInt.Match(path)
						_ = ps
					}
				})
			}
			b.Run(fmt.Sprintf("%d/%s/servemux", n, kind), func(b *testing.B) {
				req := &http.Request{Method: "GET", URL: &url.URL{Path: path}}
				b.ReportAllocs()
				for b.Loop() {
					_, _ = sm.Handler(req)
				}
			})
			b.Run(fmt.Sprintf("%d/%s/chi", n, kind), func(b *testing.B) {
				rctx := chi.NewRouteContext()
				b.ReportAllocs()
				for b.Loop() {
					rctx.Reset()
					_ = cm.Find(rctx, "GET", path)
				}
			})
		}
	}
}
