package framework

import (
	"fmt"
	"reflect"

	"github.com/nowebsocket/nows/internal/hookcheck"
)

// A Blueprint groups routes under a path prefix, like the blueprints of
// NoWebsocket and Flask. Declare one per file (chat_bp.go), in a package
// variable or, when its handlers need the app's dependencies, a function
// that takes them (see [RouteFunc]); `nows registry` lists both:
//
//	var Chat = framework.NewBlueprint("/chat", framework.Route[Room]("/room/{id}"))
type Blueprint struct {
	prefix string
	routes []RouteSpec
	source string
}

// NewBlueprint returns a blueprint whose routes all start with prefix ("" or
// "/" for none).
func NewBlueprint(prefix string, routes ...RouteSpec) *Blueprint {
	return &Blueprint{prefix: prefix, routes: routes, source: hookcheck.Caller(1)}
}

// RouteSpec binds a path template to a handler type. Make one with [Route].
type RouteSpec struct {
	template   string
	handler    string
	source     string
	newHandler func() any
	queue      *QueueOptions // overrides Options.SendQueue
	protos     []string      // overrides Options.Subprotocols when non-nil
}

// Route binds template, relative to the blueprint's prefix, to the handler
// type H: every connection gets a fresh new(H), whose pointer implements
// the hooks it needs. A template has static segments and typed parameters:
// {name:type} (or {type:name}), {name} for a str, {name...} for the rest of
// the path; the types are str, int, float, uuid, path and
// [Options.ParamTypes].
func Route[H any](template string) RouteSpec {
	return RouteSpec{
		template:   template,
		handler:    reflect.TypeFor[H]().Name(),
		source:     hookcheck.Caller(1),
		newHandler: func() any { return new(H) },
	}
}

// RouteFunc is Route with a constructor, the way handlers reach the app's
// dependencies without package variables: a blueprint function gets them
// and closes over them, as in
// RouteFunc("/", func() *Upload { return &Upload{dir: deps.Dir} }).
// newHandler runs once per connection and once at registration; it must
// not return nil.
func RouteFunc[H any](template string, newHandler func() *H) RouteSpec {
	rs := RouteSpec{
		template: template,
		handler:  reflect.TypeFor[H]().Name(),
		source:   hookcheck.Caller(1),
	}
	if newHandler != nil {
		rs.newHandler = func() any {
			if h := newHandler(); h != nil {
				return h
			}
			return nil
		}
	}
	return rs
}

// WithQueue returns the route with its own send-queue options (a ticker
// that drops rather than closes, say); zero fields take Options.SendQueue.
func (r RouteSpec) WithQueue(q QueueOptions) RouteSpec {
	r.queue = &q
	return r
}

// WithSubprotocols returns the route with its own subprotocols to
// negotiate, preferred first, instead of Options.Subprotocols.
func (r RouteSpec) WithSubprotocols(protos ...string) RouteSpec {
	r.protos = append([]string{}, protos...)
	return r
}

func (r RouteSpec) check() error {
	if r.newHandler == nil {
		return fmt.Errorf("%w: route %q has no handler: make routes with framework.Route or framework.RouteFunc", ErrBadHandler, r.template)
	}
	v := r.newHandler()
	if v == nil {
		return fmt.Errorf("%w: route %q (%s): the handler constructor returned nil", ErrBadHandler, r.template, r.source)
	}
	t := reflect.TypeOf(v)
	if t.Elem().Kind() == reflect.Pointer {
		return fmt.Errorf("%w: route %q (%s): handler type %v is a pointer: write Route[%v], the framework makes a new one per connection",
			ErrBadHandler, r.template, r.source, t.Elem(), t.Elem().Elem())
	}
	if err := checkHooks(t); err != nil {
		return fmt.Errorf("%w: route %q (%s): %v", ErrBadHandler, r.template, r.source, err)
	}
	h := hooksOf(v)
	if h.message == nil && h.binary == nil {
		return fmt.Errorf("%w: route %q (%s): *%s has neither OnMessage nor OnBinary: add OnMessage(ctx context.Context, c *framework.Conn, text string) error or OnBinary(ctx context.Context, c *framework.Conn, data []byte) error",
			ErrBadHandler, r.template, r.source, r.handler)
	}
	return nil
}
