package framework

import "iter"

// Params holds the typed path parameters of a matched route, in template
// order. The zero value has no parameters. Params is a small read-only
// value, safe to copy and to use from any goroutine.
type Params struct {
	ps []param
}

// param is one parameter: its name, its decoded text and its typed value
// (nil when the value is the text itself: str, path and uuid).
type param struct {
	name  string
	text  string
	value any
}

func (p Params) find(name string) *param {
	for i := range p.ps {
		if p.ps[i].name == name {
			return &p.ps[i]
		}
	}
	return nil
}

// Str returns the decoded text of the named parameter, whatever its type
// ("42" for an int, the lowercase form for a uuid), or "" if there is no
// such parameter.
func (p Params) Str(name string) string {
	if q := p.find(name); q != nil {
		return q.text
	}
	return ""
}

// Int returns the value of the named int parameter, or 0 if there is no
// such parameter or it is not an int.
func (p Params) Int(name string) int64 {
	if q := p.find(name); q != nil {
		if n, ok := q.value.(int64); ok {
			return n
		}
	}
	return 0
}

// Float returns the value of the named float parameter, or 0 if there is no
// such parameter or it is not a float.
func (p Params) Float(name string) float64 {
	if q := p.find(name); q != nil {
		if f, ok := q.value.(float64); ok {
			return f
		}
	}
	return 0
}

// Get returns the typed value of the named parameter: a string for str,
// path and uuid, an int64 for int, a float64 for float, and what Parse
// returned for a custom type (the text if Parse returned nil). It reports
// whether there is such a parameter.
func (p Params) Get(name string) (any, bool) {
	q := p.find(name)
	if q == nil {
		return nil, false
	}
	if q.value == nil {
		return q.text, true
	}
	return q.value, true
}

// Len returns the number of parameters.
func (p Params) Len() int { return len(p.ps) }

// Names returns the names of the parameters, in template order.
func (p Params) Names() []string {
	if len(p.ps) == 0 {
		return nil
	}
	names := make([]string, len(p.ps))
	for i := range p.ps {
		names[i] = p.ps[i].name
	}
	return names
}

// All yields each parameter's name and typed value (as [Params.Get] gives
// it), in template order.
func (p Params) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i := range p.ps {
			q := &p.ps[i]
			v := q.value
			if v == nil {
				v = q.text
			}
			if !yield(q.name, v) {
				return
			}
		}
	}
}
