package route

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// testRoutes is the route set of the matching tests, in no particular order.
var testRoutes = []string{
	"/",
	"/echo",
	"/echo/",
	"/echo/{msg}",
	"/echo/ping",
	"/u/{id:int}",
	"/u/{f:float}",
	"/u/{id:uuid}",
	"/u/{name}",
	"/u/{name}/posts",
	"/u/{id:int}/posts/{n:int}",
	"/u/me/{rest...}",
	"/v/{x:float}",
	"/v/{s}",
	"/files/{p...}",
	"/files/{dir}/index",
	"/files/static/{name}",
	"/c/{n:hex}",
	"/c/{s:slug}",
	"/c/{s}",
	"/caf%C3%A9",
	"/hello world",
	"/{page}",
	"/{a}/{b}/{c}",
	"/{all...}",
}

func newTestMux(t testing.TB, templates []string) *Mux[string] {
	t.Helper()
	var m Mux[string]
	for _, tmpl := range templates {
		p := mustParse(t, tmpl, hexType, slugType)
		if old, conflict := m.Add(p, tmpl); conflict {
			t.Fatalf("add(%s): conflicts with %s", tmpl, old)
		}
	}
	return &m
}

func TestMuxMatch(t *testing.T) {
	t.Parallel()
	m := newTestMux(t, testRoutes)
	if got, want := m.Len(), len(testRoutes); got != want {
		t.Fatalf("len(): got %d, want %d", got, want)
	}
	const id = "123e4567-e89b-12d3-a456-426614174000"
	testCases := []struct {
		path   string
		route  string // "" for no match
		params string
	}{
		{"/", "/", ""},
		{"", "", ""},
		{"echo", "", ""},
		{"/echo", "/echo", ""},
		{"/echo/", "/echo/", ""},
		{"/echo/ping", "/echo/ping", ""},
		{"/echo/pong", "/echo/{msg}", "msg=pong(string)"},
		{"/echo/hello%20world", "/echo/{msg}", "msg=hello world(string)"},
		{"/echo/p%69ng", "/echo/ping", ""}, // static text is compared decoded
		{"/echo/a%2Fb", "/echo/{msg}", "msg=a/b(string)"},
		{"/echo/a%2fb", "/echo/{msg}", "msg=a/b(string)"},
		{"/echo/%zz", "", ""},
		{"/echo/%E4%BD%A0%E5%A5%BD", "/echo/{msg}", "msg=你好(string)"},
		{"/echo/你好", "/echo/{msg}", "msg=你好(string)"},
		{"/echo/a/b", "/{a}/{b}/{c}", "a=echo(string) b=a(string) c=b(string)"},
		// static > int > float > uuid > str > path
		{"/u/42", "/u/{id:int}", "id=42(int64)"},
		{"/u/-42", "/u/{id:int}", "id=-42(int64)"},
		{"/u/4.2", "/u/{f:float}", "f=4.2(float64)"},
		{"/u/" + id, "/u/{id:uuid}", "id=" + id + "(string)"},
		{"/u/" + strings.ToUpper(id), "/u/{id:uuid}", "id=" + id + "(string)"},
		{"/u/bob", "/u/{name}", "name=bob(string)"},
		{"/u/me", "/u/{name}", "name=me(string)"},
		{"/u/me/x/y", "/u/me/{rest...}", "rest=x/y(string)"},
		{"/u/9223372036854775807", "/u/{id:int}", "id=9223372036854775807(int64)"},
		{"/u/-9223372036854775808", "/u/{id:int}", "id=-9223372036854775808(int64)"},
		// An int that overflows is no int, but it is a float.
		{"/u/9223372036854775808", "/u/{f:float}", "f=9.223372036854776e+18(float64)"},
		{"/u/1e999", "/u/{name}", "name=1e999(string)"},
		{"/v/1", "/v/{x:float}", "x=1(float64)"},
		{"/v/NaN", "/v/{s}", "s=NaN(string)"},
		{"/v/Inf", "/v/{s}", "s=Inf(string)"},
		// Backtracking: the int branch fails further down, str takes over.
		{"/u/42/posts", "/u/{name}/posts", "name=42(string)"},
		{"/u/42/posts/7", "/u/{id:int}/posts/{n:int}", "id=42(int64) n=7(int64)"},
		{"/u/42/posts/x", "/{all...}", "all=u/42/posts/x(string)"},
		{"/u/42/other", "/{a}/{b}/{c}", "a=u(string) b=42(string) c=other(string)"},
		{"/files/a", "/files/{p...}", "p=a(string)"},
		{"/files/a/index", "/files/{dir}/index", "dir=a(string)"},
		{"/files/static/index", "/files/static/{name}", "name=index(string)"},
		{"/files/static/a/b", "/files/{p...}", "p=static/a/b(string)"},
		{"/files/a%2Fb/index", "/files/{dir}/index", "dir=a/b(string)"},
		{"/files/a/b/", "/files/{p...}", "p=a/b/(string)"},
		{"/files/", "/{all...}", "all=files/(string)"},
		{"/files", "/{page}", "page=files(string)"},
		{"/c/ff", "/c/{n:hex}", "n=255(uint64)"},
		{"/c/fg", "/c/{s:slug}", "s=fg(string)"},
		{"/c/FG", "/c/{s}", "s=FG(string)"},
		{"/caf%C3%A9", "/caf%C3%A9", ""},
		{"/café", "/caf%C3%A9", ""},
		{"/hello%20world", "/hello world", ""},
		{"/x", "/{page}", "page=x(string)"},
		{"/x/", "/{all...}", "all=x/(string)"},
		{"/x/y", "/{all...}", "all=x/y(string)"},
		{"//", "", ""},
		{"//x", "", ""},
		{"/%zz/a", "", ""},
		{"/a/%zz", "", ""},
	}
	for _, tc := range testCases {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			route, ps, ok := m.Match(tc.path)
			params := formatParams(ps)
			if !ok {
				route = ""
			}
			if route != tc.route || params != tc.params {
				t.Errorf("match(%q): got %q %q, want %q %q", tc.path, route, params, tc.route, tc.params)
			}
			if ok != (tc.route != "") {
				t.Errorf("match(%q): got ok %v, want %v", tc.path, ok, tc.route != "")
			}
		})
	}
}

func TestMuxConflict(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		first, second string
		conflict      bool
	}{
		{"/u/{id:int}", "/u/{uid:int}", true},
		{"/u/{id:int}", "/u/{int:uid}", true},
		{"/u/{id:int}", "/u/{id:float}", false},
		{"/u/{id:int}", "/u/{id}", false},
		{"/f/{p...}", "/f/{q:path}", true},
		{"/f/{p...}", "/f/{q}", false},
		{"/", "/", true},
		{"/a", "/a/", false},
		{"/c/{n:hex}", "/c/{m:hex}", true},
		{"/c/{n:hex}", "/c/{m:slug}", false},
	}
	for _, tc := range testCases {
		t.Run(tc.first+" "+tc.second, func(t *testing.T) {
			t.Parallel()
			var m Mux[string]
			m.Add(mustParse(t, tc.first, hexType, slugType), "first")
			old, conflict := m.Add(mustParse(t, tc.second, hexType, slugType), "second")
			if conflict != tc.conflict {
				t.Fatalf("add(%s) after %s: got conflict %v, want %v", tc.second, tc.first, conflict, tc.conflict)
			}
			wantLen := 2
			if conflict {
				wantLen = 1
				if old != "first" {
					t.Errorf("add: got existing %q, want %q", old, "first")
				}
			} else if old != "" {
				t.Errorf("add: got existing %q, want zero value", old)
			}
			if got := m.Len(); got != wantLen {
				t.Errorf("len(): got %d, want %d", got, wantLen)
			}
		})
	}
}

func TestMuxZero(t *testing.T) {
	t.Parallel()
	var m Mux[int]
	if v, ps, ok := m.Match("/"); ok || v != 0 || ps.Len() != 0 {
		t.Errorf("match on empty mux: got %v, %v, %v, want no match", v, ps, ok)
	}
	if got := m.Len(); got != 0 {
		t.Errorf("len(): got %d, want 0", got)
	}
}

// writeTree prints the routing tree below n, one node a line: static
// children as quoted text, parameter children as {type}, routes as "=> template".
func writeTree[V any](b *strings.Builder, n *node[V], depth int) {
	indent := strings.Repeat("  ", depth)
	if n.end != nil {
		fmt.Fprintf(b, "%s=> %s\n", indent, n.end.pat)
	}
	for _, k := range slices.Sorted(maps.Keys(n.static)) {
		fmt.Fprintf(b, "%s%q\n", indent, k)
		writeTree(b, n.static[k], depth+1)
	}
	for _, e := range n.params {
		fmt.Fprintf(b, "%s{%s} #%d\n", indent, e.seg.typeName(), e.index)
		writeTree(b, e.next, depth+1)
	}
	if n.rest != nil {
		fmt.Fprintf(b, "%s{path} => %s\n", indent, n.rest.pat)
	}
}

func TestMuxTree(t *testing.T) {
	t.Parallel()
	m := newTestMux(t, testRoutes)
	var b strings.Builder
	writeTree(&b, m.root, 0)
	const want = `
""
  => /
"c"
  {hex} #0
    => /c/{n:hex}
  {slug} #0
    => /c/{s:slug}
  {str} #0
    => /c/{s:str}
"café"
  => /café
"echo"
  => /echo
  ""
    => /echo/
  "ping"
    => /echo/ping
  {str} #0
    => /echo/{msg:str}
"files"
  "static"
    {str} #0
      => /files/static/{name:str}
  {str} #0
    "index"
      => /files/{dir:str}/index
  {path} => /files/{p:path}
"hello world"
  => /hello world
"u"
  "me"
    {path} => /u/me/{rest:path}
  {int} #0
    => /u/{id:int}
    "posts"
      {int} #1
        => /u/{id:int}/posts/{n:int}
  {float} #0
    => /u/{f:float}
  {uuid} #0
    => /u/{id:uuid}
  {str} #0
    => /u/{name:str}
    "posts"
      => /u/{name:str}/posts
"v"
  {float} #0
    => /v/{x:float}
  {str} #0
    => /v/{s:str}
{str} #0
  => /{page:str}
  {str} #1
    {str} #2
      => /{a:str}/{b:str}/{c:str}
{path} => /{all:path}
`
	if got := b.String(); got != want[1:] {
		t.Errorf("tree:\ngot\n%s\nwant\n%s", got, want[1:])
	}
}

func TestMuxStaticAllocs(t *testing.T) {
	m := newTestMux(t, testRoutes)
	testCases := []struct {
		path string
		max  float64
	}{
		{"/", 0},
		{"/echo", 0},
		{"/echo/", 0},
		{"/echo/ping", 0},
		{"/café", 0},
		{"/u/bob", 0},          // parameters are stored inline in Params
		{"/u/4200/posts/7", 0}, // and ints are not boxed
		{"/u/bob%20x", 1},      // decoding the escaped segment
	}
	for _, tc := range testCases {
		got := testing.AllocsPerRun(100, func() {
			if _, _, ok := m.Match(tc.path); !ok {
				panic("no match for " + tc.path)
			}
		})
		if got > tc.max {
			t.Errorf("match(%q): got %v allocs, want %v", tc.path, got, tc.max)
		}
	}
}
