package route

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// hexType is a custom type for tests: a hexadecimal number.
var hexType = Type{Name: "hex", Parse: func(seg string) (any, error) {
	return strconv.ParseUint(seg, 16, 64)
}}

// slugType is a custom type for tests: lowercase letters and dashes.
var slugType = Type{Name: "slug", Parse: func(seg string) (any, error) {
	for _, c := range seg {
		if (c < 'a' || c > 'z') && c != '-' {
			return nil, errors.New("not a slug")
		}
	}
	return seg, nil
}}

func mustParse(t testing.TB, template string, custom ...Type) *Pattern {
	t.Helper()
	p, err := Parse(template, custom...)
	if err != nil {
		t.Fatalf("Parse(%q): %v", template, err)
	}
	return p
}

func TestParsePattern(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		template string
		want     string // canonical form
		params   []ParamInfo
	}{
		{"/", "/", nil},
		{"/echo", "/echo", nil},
		{"/echo/", "/echo/", nil},
		{"/a/b/c", "/a/b/c", nil},
		{"/room/{room_id}", "/room/{room_id:str}", []ParamInfo{{"room_id", "str"}}},
		{"/room/{room_id:str}", "/room/{room_id:str}", []ParamInfo{{"room_id", "str"}}},
		{"/room/{str:room_id}", "/room/{room_id:str}", []ParamInfo{{"room_id", "str"}}},
		{"/u/{id:int}", "/u/{id:int}", []ParamInfo{{"id", "int"}}},
		{"/u/{int:id}", "/u/{id:int}", []ParamInfo{{"id", "int"}}},
		{"/v/{x:float}", "/v/{x:float}", []ParamInfo{{"x", "float"}}},
		{"/v/{float:x}", "/v/{x:float}", []ParamInfo{{"x", "float"}}},
		{"/o/{id:uuid}", "/o/{id:uuid}", []ParamInfo{{"id", "uuid"}}},
		{"/o/{uuid:id}", "/o/{id:uuid}", []ParamInfo{{"id", "uuid"}}},
		{"/f/{rest...}", "/f/{rest:path}", []ParamInfo{{"rest", "path"}}},
		{"/f/{rest:path}", "/f/{rest:path}", []ParamInfo{{"rest", "path"}}},
		{"/f/{path:rest}", "/f/{rest:path}", []ParamInfo{{"rest", "path"}}},
		{"/{all...}", "/{all:path}", []ParamInfo{{"all", "path"}}},
		{"/c/{n:hex}", "/c/{n:hex}", []ParamInfo{{"n", "hex"}}},
		{"/c/{hex:n}", "/c/{n:hex}", []ParamInfo{{"n", "hex"}}},
		// Both words are types: the canonical reading wins.
		{"/x/{int:str}", "/x/{int:str}", []ParamInfo{{"int", "str"}}},
		{"/x/{str:int}", "/x/{str:int}", []ParamInfo{{"str", "int"}}},
		{"/x/{uuid:hex}", "/x/{uuid:hex}", []ParamInfo{{"uuid", "hex"}}},
		// A name that is no type, in either place.
		{"/x/{int:int}", "/x/{int:int}", []ParamInfo{{"int", "int"}}},
		{"/x/{_a1:int}", "/x/{_a1:int}", []ParamInfo{{"_a1", "int"}}},
		{"/x/{名前}", "/x/{名前:str}", []ParamInfo{{"名前", "str"}}},
		{"/chat/room/{room_id:str}/{n:int}/{rest...}", "/chat/room/{room_id:str}/{n:int}/{rest:path}",
			[]ParamInfo{{"room_id", "str"}, {"n", "int"}, {"rest", "path"}}},
		// Static text is decoded; only "%", "/", "{" and "}" stay encoded.
		{"/hello%20world", "/hello world", nil},
		{"/caf%C3%A9/café", "/café/café", nil},
		{"/a%2Fb/%7Bx%7D/100%25", "/a%2Fb/%7Bx%7D/100%25", nil},
		{"/a b/c?d", "/a b/c?d", nil},
		{"/{id}/", "/{id:str}/", []ParamInfo{{"id", "str"}}},
	}
	for _, tc := range testCases {
		t.Run(tc.template, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(tc.template, hexType, slugType)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", tc.template, err)
			}
			if got := p.String(); got != tc.want {
				t.Errorf("String(): got %q, want %q", got, tc.want)
			}
			if got := p.Params(); !slices.Equal(got, tc.params) {
				t.Errorf("Params(): got %v, want %v", got, tc.params)
			}
			// The canonical form parses to an equivalent pattern.
			q, err := Parse(p.String(), hexType, slugType)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", p.String(), err)
			}
			if !p.Conflicts(q) || q.String() != p.String() || !slices.Equal(q.Params(), p.Params()) {
				t.Errorf("re-parsed %q: got %q, want an equivalent pattern", p.String(), q.String())
			}
		})
	}
}

func TestParsePatternErrors(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		template string
		want     string // part of the message after the quoted template
	}{
		{"", `does not start with "/" at offset 0`},
		{"echo", `does not start with "/" at offset 0`},
		{"/a/{id:nope}", `unknown parameter type "nope" at offset 3`},
		{"/a/{nope:id}", `unknown parameter type "id" at offset 3`},
		{"/a/{id:}", `empty parameter type in "{id:}" at offset 3`},
		{"/a/{}", `empty parameter name at offset 3`},
		{"/a/{:int}", `empty parameter name at offset 3`},
		{"/a/{int:}", `empty parameter name at offset 3`},
		{"/a/{...}", `empty parameter name at offset 3`},
		{"/a/{id}/{id:int}", `duplicate parameter name "id" at offset 8`},
		{"/a/{id}/{int:id}", `duplicate parameter name "id" at offset 8`},
		{"/a/{p...}/b", `path parameter "p" is not the last segment at offset 3`},
		{"/a/{p:path}/{q}", `path parameter "p" is not the last segment at offset 3`},
		{"/a/{p...}/", `path parameter "p" is not the last segment at offset 3`},
		{"/a/{p:int...}", `"..." combined with a type in "{p:int...}" at offset 3`},
		{"/a{id}", `parameter mixed with text in segment "a{id}" at offset 1`},
		{"/a/{id}x", `parameter mixed with text in segment "{id}x" at offset 3`},
		{"/a/{a}{b}", `more than one parameter in segment "{a}{b}" at offset 6`},
		{"/a/{id", `unbalanced "{" at offset 3`},
		{"/a/id}", `unbalanced "}" at offset 5`},
		{"/a/}id{", `unbalanced "}" at offset 3`},
		{"/a/{{id}}", `unexpected "{" at offset 4`},
		{"/a/{i}d}", `unbalanced "}" at offset 7`},
		{"/x/{a}}", `unbalanced "}" at offset 6`},
		{"/a/{my-id}", `bad parameter name "my-id" (want letters, digits and _) at offset 3`},
		{"/a/{1id}", `bad parameter name "1id" (want letters, digits and _) at offset 3`},
		{"/a/{a:b:c}", `unknown parameter type "b:c" at offset 3`},
		{"/a/{int:a:b}", `bad parameter name "a:b" (want letters, digits and _) at offset 3`},
		{"/a/{a b}", `bad parameter name "a b" (want letters, digits and _) at offset 3`},
		{"//", `empty segment at offset 1`},
		{"/a//b", `empty segment at offset 3`},
		{"/a%zz", `bad percent-encoding in "a%zz" at offset 2`},
		{"/a/b%2", `bad percent-encoding in "b%2" at offset 4`},
		{"/a/%20%2x", `bad percent-encoding in "%20%2x" at offset 6`},
	}
	for _, tc := range testCases {
		t.Run(tc.template, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(tc.template, hexType)
			if err == nil {
				t.Fatalf("Parse(%q): got %q, want error %q", tc.template, p, tc.want)
			}
			want := "framework: bad route template " + strconv.Quote(tc.template) + ": " + tc.want
			if got := err.Error(); got != want {
				t.Errorf("got error %q, want %q", got, want)
			}
		})
	}
}

func TestParsePatternCustomTypeErrors(t *testing.T) {
	t.Parallel()
	parse := hexType.Parse
	testCases := []struct {
		types []Type
		want  string
	}{
		{[]Type{{Name: "int", Parse: parse}}, `framework: bad parameter type "int": shadows a built-in type`},
		{[]Type{{Name: "str", Parse: parse}}, `framework: bad parameter type "str": shadows a built-in type`},
		{[]Type{{Name: "path", Parse: parse}}, `framework: bad parameter type "path": shadows a built-in type`},
		{[]Type{{Name: "", Parse: parse}}, `framework: bad parameter type "": name is not an identifier`},
		{[]Type{{Name: "a-b", Parse: parse}}, `framework: bad parameter type "a-b": name is not an identifier`},
		{[]Type{{Name: "hex"}}, `framework: bad parameter type "hex": nil Parse`},
		{[]Type{hexType, hexType}, `framework: bad parameter type "hex": defined twice`},
	}
	for _, tc := range testCases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("/a", tc.types...)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	const id = "123e4567-e89b-12d3-a456-426614174000"
	testCases := []struct {
		template string
		path     string
		want     string // "name=value(type) ..." or "-" for no match
	}{
		{"/", "/", ""},
		{"/", "", "-"},
		{"/", "//", "-"},
		{"/a", "/a", ""},
		{"/a", "/a/", "-"},
		{"/a/", "/a", "-"},
		{"/a/", "/a/", ""},
		{"/a", "a", "-"},
		{"/a", "/b", "-"},
		{"/a/b", "/a", "-"},
		{"/a", "/a/b", "-"},
		{"/u/{id:int}", "/u/42", "id=42(int64)"},
		{"/u/{id:int}", "/u/-42", "id=-42(int64)"},
		{"/u/{id:int}", "/u/007", "id=7(int64)"},
		{"/u/{id:int}", "/u/+42", "-"},
		{"/u/{id:int}", "/u/4_2", "-"},
		{"/u/{id:int}", "/u/0x2a", "-"},
		{"/u/{id:int}", "/u/4.2", "-"},
		{"/u/{id:int}", "/u/", "-"},
		{"/u/{id:int}", "/u/-", "-"},
		{"/u/{id:int}", "/u/9223372036854775807", "id=9223372036854775807(int64)"},
		{"/u/{id:int}", "/u/9223372036854775808", "-"},
		{"/u/{id:int}", "/u/-9223372036854775808", "id=-9223372036854775808(int64)"},
		{"/u/{id:int}", "/u/-9223372036854775809", "-"},
		{"/u/{id:int}", "/u/99999999999999999999", "-"},
		{"/u/{id:int}", "/u/00000000000000000000009223372036854775807", "id=9223372036854775807(int64)"},
		{"/u/{id:int}", "/u/-0", "id=0(int64)"},
		{"/u/{id:int}", "/u/--1", "-"},
		{"/u/{id:int}", "/u/1-", "-"},
		{"/u/{id:int}", "/u/%31%32", "id=12(int64)"},
		{"/v/{x:float}", "/v/1.5", "x=1.5(float64)"},
		{"/v/{x:float}", "/v/-2", "x=-2(float64)"},
		{"/v/{x:float}", "/v/.5", "x=0.5(float64)"},
		{"/v/{x:float}", "/v/5.", "x=5(float64)"},
		{"/v/{x:float}", "/v/1e3", "x=1000(float64)"},
		{"/v/{x:float}", "/v/1E-3", "x=0.001(float64)"},
		{"/v/{x:float}", "/v/1e400", "-"},
		{"/v/{x:float}", "/v/1e", "-"},
		{"/v/{x:float}", "/v/.", "-"},
		{"/v/{x:float}", "/v/NaN", "-"},
		{"/v/{x:float}", "/v/Inf", "-"},
		{"/v/{x:float}", "/v/-inf", "-"},
		{"/v/{x:float}", "/v/0x1p3", "-"},
		{"/v/{x:float}", "/v/1_0", "-"},
		{"/o/{id:uuid}", "/o/" + id, "id=" + id + "(string)"},
		{"/o/{id:uuid}", "/o/" + strings.ToUpper(id), "id=" + id + "(string)"},
		{"/o/{id:uuid}", "/o/" + id[:35], "-"},
		{"/o/{id:uuid}", "/o/" + id + "0", "-"},
		{"/o/{id:uuid}", "/o/123e4567e89b12d3a456426614174000", "-"},
		{"/o/{id:uuid}", "/o/g23e4567-e89b-12d3-a456-426614174000", "-"},
		{"/o/{id:uuid}", "/o/123e4567-e89b-12d3-a456_426614174000", "-"},
		{"/r/{name}", "/r/bob", "name=bob(string)"},
		{"/r/{name}", "/r/", "-"},
		{"/r/{name}", "/r/a/b", "-"},
		{"/echo/{msg}", "/echo/hello%20world", "msg=hello world(string)"},
		{"/echo/{msg}", "/echo/a%2Fb", "msg=a/b(string)"},
		{"/echo/{msg}", "/echo/%E4%BD%A0%E5%A5%BD", "msg=你好(string)"},
		{"/echo/{msg}", "/echo/你好", "msg=你好(string)"},
		{"/echo/{msg}", "/echo/%zz", "-"},
		{"/echo/{msg}", "/echo/%2", "-"},
		{"/echo/{msg}", "/echo/a+b", "msg=a+b(string)"},
		{"/hello world", "/hello%20world", ""},
		{"/café", "/caf%C3%A9", ""},
		{"/café", "/caf%c3%a9", ""},
		{"/a%2Fb", "/a%2Fb", ""},
		{"/a%2Fb", "/a/b", "-"},
		{"/f/{p...}", "/f/a", "p=a(string)"},
		{"/f/{p...}", "/f/a/b/c", "p=a/b/c(string)"},
		{"/f/{p...}", "/f/a/b/", "p=a/b/(string)"},
		{"/f/{p...}", "/f/a%2Fb/c%20d", "p=a/b/c d(string)"},
		{"/f/{p...}", "/f/a//b", "p=a//b(string)"},
		{"/f/{p...}", "/f/", "-"},
		{"/f/{p...}", "/f", "-"},
		{"/f/{p...}", "/f//a", "-"},
		{"/f/{p...}", "/f/a/%zz", "-"},
		{"/c/{n:hex}", "/c/ff", "n=255(uint64)"},
		{"/c/{n:hex}", "/c/zz", "-"},
		{"/c/{n:hex}", "/c/", "-"},
		{"/{a}/{b:int}/{c...}", "/x/1/y/z", "a=x(string) b=1(int64) c=y/z(string)"},
	}
	for _, tc := range testCases {
		t.Run(tc.template+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, tc.template, hexType)
			ps, ok := p.Match(tc.path)
			got := "-"
			if ok {
				got = formatParams(ps)
			}
			if got != tc.want {
				t.Errorf("Match(%q): got %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		a, b string
		want bool
	}{
		{"/", "/", true},
		{"/a", "/a", true},
		{"/a", "/b", false},
		{"/a", "/a/", false},
		{"/a", "/a/b", false},
		{"/u/{id:int}", "/u/{uid:int}", true},
		{"/u/{id:int}", "/u/{int:uid}", true},
		{"/u/{int:id}", "/u/{uid:int}", true},
		{"/u/{id}", "/u/{name:str}", true},
		{"/u/{id}", "/u/{str:name}", true},
		{"/u/{id:int}", "/u/{id:float}", false},
		{"/u/{id:int}", "/u/{id}", false},
		{"/u/{id:int}", "/u/{id:uuid}", false},
		{"/u/{id:int}", "/u/42", false},
		{"/u/{id:hex}", "/u/{x:hex}", true},
		{"/u/{id:hex}", "/u/{x:slug}", false},
		{"/f/{p...}", "/f/{q:path}", true},
		{"/f/{p...}", "/f/{path:q}", true},
		{"/f/{p...}", "/f/{q}", false},
		{"/f/{p...}", "/f/{q}/{r...}", false},
		{"/{a}/{b:int}/x", "/{c}/{d:int}/x", true},
		{"/{a}/{b:int}/x", "/{c}/{d:int}/y", false},
		{"/hello%20world", "/hello world", true},
	}
	for _, tc := range testCases {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			t.Parallel()
			a, b := mustParse(t, tc.a, hexType, slugType), mustParse(t, tc.b, hexType, slugType)
			if got := a.Conflicts(b); got != tc.want {
				t.Errorf("%s.Conflicts(%s): got %v, want %v", a, b, got, tc.want)
			}
			if got := b.Conflicts(a); got != tc.want {
				t.Errorf("%s.Conflicts(%s): got %v, want %v", b, a, got, tc.want)
			}
			if tc.want && Compare(a, b) != 0 {
				t.Errorf("Compare(%s, %s): got %d, want 0 for conflicting patterns", a, b, Compare(a, b))
			}
		})
	}
}

func TestComparePatterns(t *testing.T) {
	t.Parallel()
	// From the most to the least specific; each pair ranks in this order.
	ordered := []string{
		"/a",
		"/a/b",
		"/a/{x:int}",
		"/a/{x:float}",
		"/a/{x:uuid}",
		"/a/{x:hex}",
		"/a/{x:slug}",
		"/a/{x}",
		"/a/{x}/b",
		"/a/{x}/{y}",
		"/a/{x}/{y...}",
		"/a/{x...}",
		"/{x:int}",
		"/{x}",
		"/{x...}",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			pa, pb := mustParse(t, a, hexType, slugType), mustParse(t, b, hexType, slugType)
			got := Compare(pa, pb)
			switch {
			case i < j && got >= 0, i > j && got <= 0, i == j && got != 0:
				t.Errorf("Compare(%s, %s): got %d, want sign %d", a, b, got, cmpInt(i, j))
			}
		}
	}
	if got := Compare(mustParse(t, "/a/{x:int}"), mustParse(t, "/b/{y:int}")); got != 0 {
		t.Errorf("Compare(/a/{x:int}, /b/{y:int}): got %d, want 0", got)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestJoinTemplate(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		prefix, template, want string
	}{
		{"/chat", "/room/{id}", "/chat/room/{id}"},
		{"/chat/", "/room/{id}", "/chat/room/{id}"},
		{"/chat", "room/{id}", "/chat/room/{id}"},
		{"/chat/", "room", "/chat/room"},
		{"/chat", "", "/chat"},
		{"/chat", "/", "/chat"},
		{"/chat/", "/", "/chat/"},
		{"/chat", "/room/", "/chat/room/"},
		{"", "/room", "/room"},
		{"/", "/room", "/room"},
		{"", "room", "/room"},
		{"/", "room", "/room"},
		{"", "", "/"},
		{"/", "", "/"},
		{"", "/", "/"},
		{"/", "/", "/"},
		{"/a/b", "/c/d", "/a/b/c/d"},
	}
	for _, tc := range testCases {
		if got := Join(tc.prefix, tc.template); got != tc.want {
			t.Errorf("Join(%q, %q): got %q, want %q", tc.prefix, tc.template, got, tc.want)
		}
	}
}
