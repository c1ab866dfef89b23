package route

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// benchSizes are the route counts of the matching benchmarks.
var benchSizes = []int{10, 100, 1000}

// benchRoutes returns n routes, a third of each kind: static
// ("/s7/info"), an int parameter ("/u7/{id:int}") and a str parameter
// followed by static text ("/r7/{name}/msg"). serveMux gives the
// equivalent net/http patterns, which have no types.
func benchRoutes(n int, serveMux bool) []string {
	routes := make([]string, 0, n)
	for i := 0; len(routes) < n; i++ {
		routes = append(routes, fmt.Sprintf("/s%d/info", i))
		if len(routes) < n {
			if serveMux {
				routes = append(routes, fmt.Sprintf("/u%d/{id}", i))
			} else {
				routes = append(routes, fmt.Sprintf("/u%d/{id:int}", i))
			}
		}
		if len(routes) < n {
			routes = append(routes, fmt.Sprintf("/r%d/{name}/msg", i))
		}
	}
	return routes
}

// benchPaths returns a static and a parameter path that match routes of
// the last group of benchRoutes(n).
func benchPaths(n int) (static, param string) {
	return fmt.Sprintf("/s%d/info", (n-1)/3), fmt.Sprintf("/u%d/42", (n-2)/3)
}

func BenchmarkMuxMatch(b *testing.B) {
	for _, n := range benchSizes {
		var m Mux[int]
		for i, tmpl := range benchRoutes(n, false) {
			p, err := Parse(tmpl)
			if err != nil {
				b.Fatal(err)
			}
			m.Add(p, i)
		}
		static, param := benchPaths(n)
		for _, path := range []struct{ name, path string }{{"static", static}, {"param", param}} {
			u := &url.URL{Path: path.path}
			b.Run(fmt.Sprintf("routes=%d/%s", n, path.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok := m.Match(u.EscapedPath()); !ok {
						b.Fatalf("no match for %s", path.path)
					}
				}
			})
		}
	}
}

// nopWriter is a ResponseWriter that discards everything.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func BenchmarkServeMux(b *testing.B) {
	for _, n := range benchSizes {
		m := http.NewServeMux()
		matched := false
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { matched = true })
		for _, tmpl := range benchRoutes(n, true) {
			m.Handle(tmpl, h)
		}
		static, param := benchPaths(n)
		for _, path := range []struct{ name, path string }{{"static", static}, {"param", param}} {
			r, err := http.NewRequest(http.MethodGet, "http://localhost"+path.path, nil)
			if err != nil {
				b.Fatal(err)
			}
			w := &nopWriter{h: http.Header{}}
			b.Run(fmt.Sprintf("routes=%d/%s", n, path.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					matched = false
					m.ServeHTTP(w, r)
					if !matched {
						b.Fatalf("no match for %s", path.path)
					}
				}
			})
		}
	}
}

func BenchmarkParsePattern(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("/chat/room/{room_id:str}/{n:int}/{rest...}"); err != nil {
			b.Fatal(err)
		}
	}
}
