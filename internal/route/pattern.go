// Package route parses route templates such as "/room/{room_id:int}" and
// matches request paths against them. It is shared by the framework and
// the nows CLI (which checks templates when it generates code), and is not
// part of the public API.
package route

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Type is a custom parameter type, usable in templates as {name:Name}
// once passed to [Parse] (the framework lists them in Options.ParamTypes).
//
// A custom type matches one non-empty path segment. Parse receives the
// percent-decoded segment; a nil error means the segment matches and the
// returned value is what [Values.Get] gives back. Parse must be safe for
// concurrent use. Custom types rank with int, float and uuid: below static
// segments, above str and path; two custom types at the same position are
// tried in the order of their names.
type Type struct {
	Name  string                        // the name used in templates, a Go identifier
	Parse func(seg string) (any, error) // nil error = the segment matches
}

// ParamInfo describes one parameter of a template.
type ParamInfo struct {
	Name string // the parameter's name, e.g. "room_id"
	Type string // its type: "str", "int", "float", "uuid", "path" or a custom name
}

// A Pattern is a parsed route template such as "/room/{room_id:str}".
//
// A template is "/" followed by segments separated by "/". A segment is
// static text or one parameter filling the whole segment: {name:type},
// {type:name} (when only the first word is a type name), {name} (a str) or
// {name...} (a path). The built-in types are:
//
//	str    one non-empty segment; the value is a string
//	int    a signed 64-bit decimal integer ("-12", "42"); an int64
//	float  a decimal number ("3.5", "-1e3"); a float64
//	uuid   8-4-4-4-12 hexadecimal digits in any case; a lowercase string
//	path   the rest of the path, one or more segments; a string
//
// A path parameter must come last. A trailing slash is significant: "/a/"
// and "/a" are different patterns. Static text may be percent-encoded in
// the template; it is compared with the decoded path segment.
//
// A Pattern is immutable and safe for concurrent use.
type Pattern struct {
	str    string      // canonical form
	segs   []segment   // at least one; the root "/" is one empty static segment
	params []ParamInfo // in order
}

// kind is the kind of a segment. The order of the constants is the order
// of precedence: a lower kind is more specific.
type kind uint8

const (
	kindStatic kind = iota
	kindInt
	kindFloat
	kindUUID
	kindCustom
	kindStr
	kindPath
)

var builtinKinds = map[string]kind{
	"str":   kindStr,
	"int":   kindInt,
	"float": kindFloat,
	"uuid":  kindUUID,
	"path":  kindPath,
}

// Builtin reports whether name is a built-in parameter type (str, int,
// float, uuid, path) rather than a custom one.
func Builtin(name string) bool {
	_, ok := builtinKinds[name]
	return ok
}

// segment is one segment of a pattern.
type segment struct {
	kind kind
	text string // static: the decoded text; parameter: its name
	typ  *Type  // kindCustom only
}

// typeName returns the name of a parameter segment's type.
func (s *segment) typeName() string {
	switch s.kind {
	case kindInt:
		return "int"
	case kindFloat:
		return "float"
	case kindUUID:
		return "uuid"
	case kindCustom:
		return s.typ.Name
	case kindStr:
		return "str"
	case kindPath:
		return "path"
	}
	return ""
}

// same reports whether s and t match the same segments.
func (s *segment) same(t *segment) bool {
	if s.kind != t.kind {
		return false
	}
	switch s.kind {
	case kindStatic:
		return s.text == t.text
	case kindCustom:
		return s.typ.Name == t.typ.Name
	}
	return true
}

// compare orders two segments by precedence, ignoring static text and names.
func (s *segment) compare(t *segment) int {
	if s.kind != t.kind {
		if s.kind < t.kind {
			return -1
		}
		return 1
	}
	if s.kind == kindCustom {
		return strings.Compare(s.typ.Name, t.typ.Name)
	}
	return 0
}

// parse matches the decoded segment dec against the parameter segment s
// and returns the parameter (without its name). A parameter never matches
// an empty segment.
func (s *segment) parse(dec string) (param, bool) {
	if dec == "" {
		return param{}, false
	}
	switch s.kind {
	case kindStr:
		return param{text: dec}, true
	case kindInt:
		n, ok := parseInt(dec)
		if !ok {
			return param{}, false
		}
		return param{text: dec, kind: paramInt, num: uint64(n)}, true
	case kindFloat:
		if !isDecimalFloat(dec) {
			return param{}, false
		}
		f, err := strconv.ParseFloat(dec, 64)
		if err != nil { // out of range
			return param{}, false
		}
		return param{text: dec, kind: paramFloat, num: math.Float64bits(f)}, true
	case kindUUID:
		if !isUUID(dec) {
			return param{}, false
		}
		return param{text: lowerASCII(dec)}, true
	case kindCustom:
		v, err := s.typ.Parse(dec)
		if err != nil {
			return param{}, false
		}
		return param{text: dec, kind: paramCustom, custom: v}, true
	}
	return param{}, false
}

// Parse parses a route template. Custom parameter types may be given;
// their names must be Go identifiers, distinct, and not the name of a
// built-in type, or the error starts with "framework: bad parameter type".
// Errors in the template start with "framework: bad route template" and say
// at which byte offset of the template the problem is.
func Parse(template string, custom ...Type) (*Pattern, error) {
	types, err := customTypes(custom)
	if err != nil {
		return nil, err
	}
	bad := func(off int, format string, args ...any) error {
		return fmt.Errorf("framework: bad route template %q: %s at offset %d",
			template, fmt.Sprintf(format, args...), off)
	}
	if !strings.HasPrefix(template, "/") {
		return nil, bad(0, "does not start with \"/\"")
	}
	p := &Pattern{}
	seen := map[string]bool{}
	rest, off, prev := template[1:], 1, 0
	for {
		seg, after, more := strings.Cut(rest, "/")
		if len(p.segs) > 0 && p.segs[len(p.segs)-1].kind == kindPath {
			return nil, bad(prev, "path parameter %q is not the last segment", p.segs[len(p.segs)-1].text)
		}
		if seg == "" && more {
			return nil, bad(off, "empty segment")
		}
		s, e := parseSegment(seg, types)
		if e != nil {
			return nil, bad(off+e.off, "%s", e.msg)
		}
		if s.kind != kindStatic {
			if seen[s.text] {
				return nil, bad(off, "duplicate parameter name %q", s.text)
			}
			seen[s.text] = true
			p.params = append(p.params, ParamInfo{Name: s.text, Type: s.typeName()})
		}
		p.segs = append(p.segs, s)
		if !more {
			break
		}
		rest, off, prev = after, off+len(seg)+1, off
	}
	p.str = p.canonical()
	return p, nil
}

// customTypes checks the custom types and indexes them by name.
func customTypes(custom []Type) (map[string]*Type, error) {
	if len(custom) == 0 {
		return nil, nil
	}
	types := make(map[string]*Type, len(custom))
	for i := range custom {
		t := new(Type)
		*t = custom[i] // a copy: the caller may reuse its slice
		switch {
		case !isIdent(t.Name):
			return nil, fmt.Errorf("framework: bad parameter type %q: name is not an identifier", t.Name)
		case isType(t.Name, nil):
			return nil, fmt.Errorf("framework: bad parameter type %q: shadows a built-in type", t.Name)
		case types[t.Name] != nil:
			return nil, fmt.Errorf("framework: bad parameter type %q: defined twice", t.Name)
		case t.Parse == nil:
			return nil, fmt.Errorf("framework: bad parameter type %q: nil Parse", t.Name)
		}
		types[t.Name] = t
	}
	return types, nil
}

// segError is a problem in one segment, at offset off of the segment.
type segError struct {
	off int
	msg string
}

// parseSegment parses one segment of a template.
func parseSegment(seg string, types map[string]*Type) (segment, *segError) {
	open := strings.IndexByte(seg, '{')
	closing := strings.IndexByte(seg, '}')
	if open < 0 && closing < 0 {
		if strings.IndexByte(seg, '%') < 0 {
			return segment{kind: kindStatic, text: seg}, nil
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return segment{}, &segError{badEscape(seg), "bad percent-encoding in " + strconv.Quote(seg)}
		}
		return segment{kind: kindStatic, text: dec}, nil
	}
	switch {
	case open < 0 || (closing >= 0 && closing < open):
		return segment{}, &segError{closing, "unbalanced \"}\""}
	case closing < 0:
		return segment{}, &segError{open, "unbalanced \"{\""}
	}
	if i := strings.IndexAny(seg[open+1:], "{}"); i >= 0 && open+1+i != closing {
		return segment{}, &segError{open + 1 + i, "unexpected " + strconv.Quote(seg[open+1+i:open+2+i])}
	}
	if i := strings.IndexAny(seg[closing+1:], "{}"); i >= 0 {
		at := closing + 1 + i
		if seg[at] == '}' {
			return segment{}, &segError{at, "unbalanced \"}\""}
		}
		return segment{}, &segError{at, "more than one parameter in segment " + strconv.Quote(seg)}
	}
	if open != 0 || closing != len(seg)-1 {
		return segment{}, &segError{0, "parameter mixed with text in segment " + strconv.Quote(seg)}
	}
	body := seg[1 : len(seg)-1]
	if name, ok := strings.CutSuffix(body, "..."); ok {
		if strings.Contains(name, ":") {
			return segment{}, &segError{0, "\"...\" combined with a type in " + strconv.Quote(seg)}
		}
		return newParam(name, kindPath, nil)
	}
	a, b, typed := strings.Cut(body, ":")
	if !typed {
		return newParam(a, kindStr, nil)
	}
	name, typ := a, b
	if !isType(b, types) && isType(a, types) {
		name, typ = b, a // {type:name}
	}
	if k, ok := builtinKinds[typ]; ok {
		return newParam(name, k, nil)
	}
	if t := types[typ]; t != nil {
		return newParam(name, kindCustom, t)
	}
	if typ == "" {
		return segment{}, &segError{0, "empty parameter type in " + strconv.Quote(seg)}
	}
	return segment{}, &segError{0, "unknown parameter type " + strconv.Quote(typ)}
}

func newParam(name string, k kind, t *Type) (segment, *segError) {
	if name == "" {
		return segment{}, &segError{0, "empty parameter name"}
	}
	if !isIdent(name) {
		return segment{}, &segError{0, "bad parameter name " + strconv.Quote(name) + " (want letters, digits and _)"}
	}
	return segment{kind: k, text: name, typ: t}, nil
}

// badEscape returns the offset of the first bad "%" escape in s, or -1.
func badEscape(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isType(name string, types map[string]*Type) bool {
	_, ok := builtinKinds[name]
	return ok || types[name] != nil
}

// isIdent reports whether s is a Go identifier: a letter or "_" followed
// by letters, digits and "_".
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError {
			return false
		}
		if !unicode.IsLetter(r) && r != '_' && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// canonical returns the canonical form of p's template.
func (p *Pattern) canonical() string {
	var b strings.Builder
	for i := range p.segs {
		s := &p.segs[i]
		b.WriteByte('/')
		if s.kind == kindStatic {
			escapeStatic(&b, s.text)
			continue
		}
		b.WriteByte('{')
		b.WriteString(s.text)
		b.WriteByte(':')
		b.WriteString(s.typeName())
		b.WriteByte('}')
	}
	return b.String()
}

// escapeStatic writes static text, escaping only what a template cannot hold.
func escapeStatic(b *strings.Builder, text string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '%', '/', '{', '}':
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
}

// String returns the canonical form of the template: parameters written as
// {name:type} ({name...} as {name:path}) and static text decoded, except
// for "%", "/", "{" and "}", which stay percent-encoded.
func (p *Pattern) String() string { return p.str }

// Params returns the template's parameters, in order.
func (p *Pattern) Params() []ParamInfo {
	if len(p.params) == 0 {
		return nil
	}
	return append([]ParamInfo(nil), p.params...)
}

// Match reports whether the escaped URL path (url.URL.EscapedPath) matches
// p, and returns its parameters. Each segment is percent-decoded before it
// is compared, so "%2F" stays inside its segment; a segment that does not
// decode, or a value that does not parse as its type, does not match.
func (p *Pattern) Match(escapedPath string) (Values, bool) {
	var ps Values
	if escapedPath == "" || escapedPath[0] != '/' {
		return Values{}, false
	}
	ps.reset(len(p.params))
	rest, done, index := escapedPath[1:], false, 0
	for i := range p.segs {
		s := &p.segs[i]
		if done {
			return Values{}, false
		}
		if s.kind == kindPath {
			text, ok := decodeRest(rest)
			if !ok {
				return Values{}, false
			}
			ps.set(index, param{name: p.params[index].Name, text: text})
			return ps, true
		}
		seg, after, more := strings.Cut(rest, "/")
		rest, done = after, !more
		dec, ok := decodeSegment(seg)
		if !ok {
			return Values{}, false
		}
		if s.kind == kindStatic {
			if dec != s.text {
				return Values{}, false
			}
			continue
		}
		q, ok := s.parse(dec)
		if !ok {
			return Values{}, false
		}
		q.name = p.params[index].Name
		ps.set(index, q)
		index++
	}
	if !done {
		return Values{}, false
	}
	return ps, true
}

// decodeSegment percent-decodes one path segment, without allocating when
// there is nothing to decode.
func decodeSegment(seg string) (string, bool) {
	if strings.IndexByte(seg, '%') < 0 {
		return seg, true
	}
	dec, err := url.PathUnescape(seg)
	return dec, err == nil
}

// decodeRest decodes the rest of a path for a path parameter: one or more
// segments, the first one not empty. Decoding the whole rest at once is
// the same as decoding each segment and joining them with "/".
func decodeRest(rest string) (string, bool) {
	if rest == "" || rest[0] == '/' {
		return "", false
	}
	return decodeSegment(rest)
}

// Conflicts reports whether p and q match exactly the same paths: the same
// number of segments, the same static text and the same parameter types at
// the same positions. Parameter names do not matter.
func (p *Pattern) Conflicts(q *Pattern) bool {
	if len(p.segs) != len(q.segs) {
		return false
	}
	for i := range p.segs {
		if !p.segs[i].same(&q.segs[i]) {
			return false
		}
	}
	return true
}

// Compare orders patterns by specificity, the order in which
// routes are preferred: it returns a negative number when a is more
// specific than b, a positive one when b is, and 0 when they rank the same.
// Segments are compared left to right: static text before int, float,
// uuid and custom types (by name), before str, before path. When one
// pattern is a prefix of the other in this sense, the shorter one comes
// first. Static text and parameter names are ignored, so patterns that
// conflict rank the same.
func Compare(a, b *Pattern) int {
	for i := range min(len(a.segs), len(b.segs)) {
		if c := a.segs[i].compare(&b.segs[i]); c != 0 {
			return c
		}
	}
	return len(a.segs) - len(b.segs)
}

// Join joins a blueprint prefix and a route template with exactly
// one "/" between them: "/chat" and "/room/{id}" give "/chat/room/{id}".
// An empty or "/" template gives the prefix; an empty or "/" prefix gives
// the template. The result is not checked; [Parse] does that.
func Join(prefix, template string) string {
	switch {
	case template == "" || template == "/":
		if prefix == "" {
			return "/"
		}
		return prefix
	case prefix == "" || prefix == "/":
		if strings.HasPrefix(template, "/") {
			return template
		}
		return "/" + template
	}
	return strings.TrimSuffix(prefix, "/") + "/" + strings.TrimPrefix(template, "/")
}

// parseInt parses an optional "-" and decimal digits as an int64, like
// strconv.ParseInt(s, 10, 64) without the "+" sign and without allocating
// an error. A value out of range does not parse.
func parseInt(s string) (int64, bool) {
	neg := s != "" && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if d > 9 || n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return int64(-n), true
	}
	return int64(n), true
}

// isDecimalFloat reports whether s is a decimal number: an optional "-",
// digits with an optional ".", and an optional exponent. Hexadecimal,
// underscores, "Inf" and "NaN" are rejected.
func isDecimalFloat(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// isUUID reports whether s is 8-4-4-4-12 hexadecimal digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// lowerASCII lowercases s, without allocating when it is already lowercase.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
