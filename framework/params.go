package framework

import (
	"iter"

	"github.com/nowebsocket/nows/internal/route"
)

// Params holds the typed path parameters of a matched route, in template
// order. The zero value has no parameters. Params is a small read-only
// value, safe to copy and to use from any goroutine.
type Params struct{ v route.Values }

// Str returns the decoded text of the named parameter, whatever its type
// ("42" for an int, a uuid in lowercase), or "" if there is none.
func (p Params) Str(name string) string { return p.v.Str(name) }

// Int returns the named int parameter, or 0 if there is none.
func (p Params) Int(name string) int64 { return p.v.Int(name) }

// Float returns the named float parameter, or 0 if there is none.
func (p Params) Float(name string) float64 { return p.v.Float(name) }

// Get returns the typed value of the named parameter, and whether there is
// one: a string for str, path and uuid, an int64 for int, a float64 for
// float, what [Options.ParamTypes]'s function returned for a custom type.
func (p Params) Get(name string) (any, bool) { return p.v.Get(name) }

// All yields each parameter's name and typed value (as [Params.Get] gives
// it), in template order.
func (p Params) All() iter.Seq2[string, any] { return p.v.All() }
