package route

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"/", "/echo", "/echo/", "/room/{room_id}", "/room/{str:room_id}",
		"/u/{id:int}/posts/{n:int}", "/v/{x:float}", "/o/{id:uuid}", "/f/{p...}",
		"/f/{p:path}", "/c/{n:hex}", "/c/{hex:n}", "/x/{int:str}", "/hello%20world",
		"/a%2Fb/%7B%7D", "/a{id}", "/a/{id", "/a/}", "//", "/a/{p...}/b", "/{}",
		"/{a}/{a}", "/{名前}", "", "x", "/%zz", "/{a:b:c}", "/{a...:int}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, template string) {
		p, err := Parse(template, hexType)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "framework: bad route template ") {
				t.Errorf("Parse(%q): got error %q, want the framework prefix", template, err)
			}
			return
		}
		s := p.String()
		q, err := Parse(s, hexType)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", template, s, err)
		}
		if q.String() != s || !p.Conflicts(q) || Compare(p, q) != 0 {
			t.Fatalf("Parse(%q) = %q, which re-parses to %q", template, s, q)
		}
		pi, qi := p.Params(), q.Params()
		if len(pi) != len(qi) {
			t.Fatalf("params of %q: got %v, want %v", s, qi, pi)
		}
		for i := range pi {
			if pi[i] != qi[i] {
				t.Fatalf("params of %q: got %v, want %v", s, qi, pi)
			}
		}
	})
}

// fuzzRoutes is the fixed route set of FuzzMatch.
var fuzzRoutes = append([]string{
	"/u/{id:int}/{name}",
	"/u/{x:float}/{y:float}",
	"/o/{id:uuid}/{rest...}",
	"/{a:hex}/{b:int}",
	"/{a:slug}/x",
}, testRoutes...)

func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"/", "/echo", "/echo/", "/echo/ping", "/echo/hello%20world", "/echo/a%2Fb",
		"/u/42", "/u/-9223372036854775808", "/u/9223372036854775808", "/u/4.2",
		"/u/123e4567-E89B-12d3-a456-426614174000", "/u/42/posts/7", "/u/42/bob",
		"/u/1/2", "/o/123e4567-e89b-12d3-a456-426614174000/a/b", "/files/a/b/",
		"/files/static/x", "/c/ff", "/caf%C3%A9", "/ff/12", "/a-b/x", "//", "/%zz",
		"/x/y/z", "/x/%2F/z", "",
	} {
		f.Add(s)
	}
	var m Mux[*Pattern]
	var patterns []*Pattern
	for _, tmpl := range fuzzRoutes {
		p := mustParse(f, tmpl, hexType, slugType)
		if _, conflict := m.Add(p, p); conflict {
			f.Fatalf("add(%s): conflict", tmpl)
		}
		patterns = append(patterns, p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got, ps, ok := m.Match(path)
		// The mux agrees with the patterns: it finds the most specific one.
		for _, p := range patterns {
			pps, pok := p.Match(path)
			switch {
			case pok && !ok:
				t.Fatalf("match(%q): got no match, want %s", path, p)
			case pok && Compare(p, got) < 0:
				t.Fatalf("match(%q): got %s, want the more specific %s", path, got, p)
			case p == got && !pok:
				t.Fatalf("match(%q): got %s, but its Match fails", path, p)
			case p == got && formatParams(pps) != formatParams(ps):
				t.Fatalf("match(%q): got params %s, Match gives %s", path, formatParams(ps), formatParams(pps))
			}
		}
		if !ok {
			return
		}
		// The params re-encode to a path that the same pattern matches with
		// the same params; without a path parameter, the mux picks it again.
		// A path value that starts with "/" (from "%2F") cannot be re-encoded:
		// the value of a path parameter keeps no trace of "%2F".
		last := &got.segs[len(got.segs)-1]
		if last.kind == kindPath && strings.HasPrefix(ps.Str(last.text), "/") {
			return
		}
		again := reencode(got, ps)
		pps, pok := got.Match(again)
		if !pok || formatParams(pps) != formatParams(ps) {
			t.Fatalf("%s.Match(%q) (re-encoded from %q): got %v %s, want %s", got, again, path, pok, formatParams(pps), formatParams(ps))
		}
		if last.kind == kindPath {
			return
		}
		got2, ps2, ok2 := m.Match(again)
		if !ok2 || got2 != got || formatParams(ps2) != formatParams(ps) {
			t.Fatalf("match(%q) (re-encoded from %q): got %v %s, want %s %s", again, path, got2, formatParams(ps2), got, formatParams(ps))
		}
	})
}

// reencode builds an escaped path for p from its parameters.
func reencode(p *Pattern, ps Values) string {
	var b strings.Builder
	for i := range p.segs {
		s := &p.segs[i]
		b.WriteByte('/')
		switch s.kind {
		case kindStatic:
			b.WriteString(url.PathEscape(s.text))
		case kindPath:
			parts := strings.Split(ps.Str(s.text), "/")
			for j, part := range parts {
				parts[j] = url.PathEscape(part)
			}
			b.WriteString(strings.Join(parts, "/"))
		default:
			b.WriteString(url.PathEscape(ps.Str(s.text)))
		}
	}
	return b.String()
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "42", "-42", "+1", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "", "-", "1a", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt(s)
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && !strings.HasPrefix(s, "+")
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("parseInt(%q): got %d, %v, want %d, %v", s, got, ok, want, wantOK)
		}
	})
}
