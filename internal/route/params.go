package route

import (
	"iter"
	"math"
)

// Values holds the typed path parameters of a matched route, in template
// order. The zero value has no parameters. Params is a small read-only
// value, safe to copy and to use from any goroutine. Up to four parameters
// are stored inline, so a match allocates nothing for them.
type Values struct {
	n      int
	inline [inlineParams]param
	more   []param // all of them, when there are more than inlineParams
}

const inlineParams = 4

// paramKind says which field of a param holds its typed value.
type paramKind uint8

const (
	paramText   paramKind = iota // the value is the text: str, path, uuid
	paramInt                     // num holds an int64
	paramFloat                   // num holds a float64's bits
	paramCustom                  // custom holds what Type.Parse returned
)

// param is one parameter: its name, its decoded text and its typed value,
// kept unboxed for ints and floats so that matching does not allocate.
type param struct {
	name   string
	text   string
	kind   paramKind
	num    uint64
	custom any
}

func (q param) value() any {
	switch q.kind {
	case paramInt:
		return int64(q.num)
	case paramFloat:
		return math.Float64frombits(q.num)
	case paramCustom:
		if q.custom != nil {
			return q.custom
		}
	}
	return q.text
}

// reset makes room for n parameters.
func (p *Values) reset(n int) {
	p.n, p.more = n, nil
	if n > inlineParams {
		p.more = make([]param, n)
	}
}

// set stores parameter i.
func (p *Values) set(i int, q param) {
	if p.more != nil {
		p.more[i] = q
		return
	}
	p.inline[i] = q
}

// at returns parameter i.
func (p *Values) at(i int) *param {
	if p.more != nil {
		return &p.more[i]
	}
	return &p.inline[i]
}

func (p *Values) find(name string) (param, bool) {
	for i := range p.n {
		if q := p.at(i); q.name == name {
			return *q, true
		}
	}
	return param{}, false
}

// Str returns the decoded text of the named parameter, whatever its type
// ("42" for an int, the lowercase form for a uuid), or "" if there is no
// such parameter.
func (p Values) Str(name string) string {
	q, _ := p.find(name)
	return q.text
}

// Int returns the value of the named int parameter, or 0 if there is no
// such parameter or it is not an int.
func (p Values) Int(name string) int64 {
	if q, ok := p.find(name); ok && q.kind == paramInt {
		return int64(q.num)
	}
	return 0
}

// Float returns the value of the named float parameter, or 0 if there is no
// such parameter or it is not a float.
func (p Values) Float(name string) float64 {
	if q, ok := p.find(name); ok && q.kind == paramFloat {
		return math.Float64frombits(q.num)
	}
	return 0
}

// Get returns the typed value of the named parameter: a string for str,
// path and uuid, an int64 for int, a float64 for float, and what Parse
// returned for a custom type (the text if Parse returned nil). It reports
// whether there is such a parameter.
func (p Values) Get(name string) (any, bool) {
	q, ok := p.find(name)
	if !ok {
		return nil, false
	}
	return q.value(), true
}

// Len returns the number of parameters.
func (p Values) Len() int { return p.n }

// Names returns the names of the parameters, in template order.
func (p Values) Names() []string {
	if p.n == 0 {
		return nil
	}
	names := make([]string, p.n)
	for i := range p.n {
		names[i] = p.at(i).name
	}
	return names
}

// All yields each parameter's name and typed value (as [Values.Get] gives
// it), in template order.
func (p Values) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i := range p.n {
			q := p.at(i)
			if !yield(q.name, q.value()) {
				return
			}
		}
	}
}
