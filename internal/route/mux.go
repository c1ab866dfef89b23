package route

import "net/url"

// mux is a routing tree from patterns to values of type V. At each node
// the next path segment is tried against the static children first, then
// the parameter children in order of precedence (int, float, uuid, custom
// types by name, str), then a path parameter that takes the rest; the
// search backtracks, so the route found is always the most specific one
// (see Compare). Static routes match without allocating.
//
// The zero value is an empty mux. A mux is built before serving and only
// read afterwards: add must not run concurrently with anything else;
// match and len may run concurrently with each other.
type Mux[V any] struct {
	root *node[V]
	n    int
}

// node is a position in the tree, after some segments.
type node[V any] struct {
	static map[string]*node[V] // by decoded segment text
	params []*paramEdge[V]     // in order of precedence
	rest   *entry[V]           // a route ending with a path parameter here
	end    *entry[V]           // a route ending here
}

// paramEdge leads to the next node through a parameter segment.
type paramEdge[V any] struct {
	seg   segment // the first pattern's: its name is not used
	index int     // the parameter's index among its pattern's parameters
	next  *node[V]
}

// entry is a registered route.
type entry[V any] struct {
	pat *Pattern
	v   V
}

// add adds the route p with value v. If a route that conflicts with p is
// already there, add adds nothing and returns its value and true.
//
// Custom types are told apart by name: when two patterns use different
// Types of the same name at the same position, the first one's Parse
// is used for both.
func (m *Mux[V]) Add(p *Pattern, v V) (existing V, conflict bool) {
	if m.root == nil {
		m.root = &node[V]{}
	}
	n, index := m.root, 0
	for i := range p.segs {
		s := &p.segs[i]
		switch s.kind {
		case kindStatic:
			next := n.static[s.text]
			if next == nil {
				if n.static == nil {
					n.static = map[string]*node[V]{}
				}
				next = &node[V]{}
				n.static[s.text] = next
			}
			n = next
		case kindPath: // always the last segment
			if n.rest != nil {
				return n.rest.v, true
			}
			n.rest = &entry[V]{pat: p, v: v}
			m.n++
			return existing, false
		default:
			n = n.paramChild(s, index)
			index++
		}
	}
	if n.end != nil {
		return n.end.v, true
	}
	n.end = &entry[V]{pat: p, v: v}
	m.n++
	return existing, false
}

// paramChild returns the node after the parameter segment s, adding it in
// order of precedence if needed.
func (n *node[V]) paramChild(s *segment, index int) *node[V] {
	i := 0
	for ; i < len(n.params); i++ {
		e := n.params[i]
		if e.seg.same(s) {
			return e.next
		}
		if s.compare(&e.seg) < 0 {
			break
		}
	}
	e := &paramEdge[V]{seg: *s, index: index, next: &node[V]{}}
	n.params = append(n.params, nil)
	copy(n.params[i+1:], n.params[i:])
	n.params[i] = e
	return e.next
}

// len returns the number of routes.
func (m *Mux[V]) Len() int { return m.n }

// match returns the value of the most specific route that matches the
// escaped URL path (url.URL.EscapedPath), and its parameters.
func (m *Mux[V]) Match(escapedPath string) (v V, ps Values, ok bool) {
	if m.root == nil || escapedPath == "" || escapedPath[0] != '/' {
		return v, ps, false
	}
	e := m.root.lookup(escapedPath[1:], &ps)
	if e == nil {
		return v, Values{}, false
	}
	return e.v, ps, true
}

// lookup matches s, the rest of the path after a "/", below n. It returns
// the route found, or nil; on success ps has room for the route's
// parameters and those from n on are set.
func (n *node[V]) lookup(s string, ps *Values) *entry[V] {
	// One pass finds the end of the segment and whether it needs decoding;
	// a plain loop beats strings.IndexByte on short segments.
	i, pct := 0, false
	for ; i < len(s) && s[i] != '/'; i++ {
		if s[i] == '%' {
			pct = true
		}
	}
	seg, after, more := s[:i], "", i < len(s)
	if more {
		after = s[i+1:]
	}
	dec := seg
	if pct {
		var err error
		if dec, err = url.PathUnescape(seg); err != nil {
			return nil
		}
	}
	if next := n.static[dec]; next != nil {
		if e := next.from(after, more, ps); e != nil {
			return e
		}
	}
	for _, pe := range n.params {
		q, ok := pe.seg.parse(dec)
		if !ok {
			continue
		}
		if e := pe.next.from(after, more, ps); e != nil {
			q.name = e.pat.params[pe.index].Name
			ps.set(pe.index, q)
			return e
		}
	}
	if n.rest != nil {
		if text, ok := decodeRest(s); ok {
			last := len(n.rest.pat.params) - 1
			ps.reset(last + 1)
			ps.set(last, param{name: n.rest.pat.params[last].Name, text: text})
			return n.rest
		}
	}
	return nil
}

// from continues a lookup at n with the rest of the path, if there is more.
func (n *node[V]) from(after string, more bool, ps *Values) *entry[V] {
	if more {
		return n.lookup(after, ps)
	}
	if n.end == nil {
		return nil
	}
	ps.reset(len(n.end.pat.params))
	return n.end
}
