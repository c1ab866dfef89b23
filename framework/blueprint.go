package framework

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
)

// A Blueprint groups routes under a common path prefix, like the blueprints
// of NoWebsocket and Flask. Declare one per file in a package-level variable;
// `nows registry` lists them for [Server.Register]:
//
//	var Chat = framework.NewBlueprint("/chat",
//		framework.Route[Room]("/room/{room_id:str}"),
//	)
//
// A Blueprint is read when it is registered; changing it afterwards has no
// effect on servers it was registered with.
type Blueprint struct {
	prefix string
	routes []RouteSpec
	source string
}

// NewBlueprint returns a blueprint whose routes all start with prefix ("" or
// "/" for none). Its source (the file and line of the call) is named in
// conflict warnings.
func NewBlueprint(prefix string, routes ...RouteSpec) *Blueprint {
	return &Blueprint{prefix: prefix, routes: routes, source: callerSource(1)}
}

// Prefix returns the blueprint's path prefix.
func (b *Blueprint) Prefix() string { return b.prefix }

// Source returns where the blueprint was declared, as "dir/file.go:line".
func (b *Blueprint) Source() string { return b.source }

// Routes returns the blueprint's routes in declaration order.
func (b *Blueprint) Routes() []RouteSpec { return append([]RouteSpec(nil), b.routes...) }

// Handle adds routes to the blueprint and returns it, for blueprints built
// step by step.
func (b *Blueprint) Handle(routes ...RouteSpec) *Blueprint {
	b.routes = append(b.routes, routes...)
	return b
}

// RouteSpec binds a path template to a handler type. Make one with [Route].
type RouteSpec struct {
	template   string
	handler    string
	source     string
	newHandler func() any
	queue      *QueueOptions // overrides Options.SendQueue
}

// Route binds template (relative to the blueprint's prefix) to the handler
// type H. For every connection on the route the framework makes a fresh
// new(H); *H implements the hooks it needs ([OpenHandler], [MessageHandler],
// [BinaryHandler], [CloseHandler], [HandshakeHandler]).
//
// Templates are made of static segments and typed parameters: {name:type}
// (canonical), {type:name}, {name} (a str) and {name...} (the rest of the
// path). The types are str, int, float, uuid, path and those in
// [Options.ParamTypes]. The template is checked when the blueprint is
// registered.
func Route[H any](template string) RouteSpec {
	return RouteSpec{
		template:   template,
		handler:    reflect.TypeFor[H]().Name(),
		source:     callerSource(1),
		newHandler: func() any { return new(H) },
	}
}

// RouteFunc is Route with a constructor: newHandler makes the handler of
// each connection, so handlers can share dependencies (a store, a
// directory, a token list) without package-level variables:
//
//	uploads := framework.RouteFunc("/upload", func() *Upload { return &Upload{dir: dir} })
//
// newHandler runs once per connection, on that connection's goroutine, and
// once at registration to find the hooks; it must not return nil.
func RouteFunc[H any](template string, newHandler func() *H) RouteSpec {
	rs := RouteSpec{
		template: template,
		handler:  reflect.TypeFor[H]().Name(),
		source:   callerSource(1),
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

// Template returns the route's template, relative to its blueprint's prefix.
func (r RouteSpec) Template() string { return r.template }

// Handler returns the name of the route's handler type.
func (r RouteSpec) Handler() string { return r.handler }

// Source returns where the route was declared, as "dir/file.go:line".
func (r RouteSpec) Source() string { return r.source }

// WithQueue returns the route with its own send-queue options for its
// connections; zero fields take the server's Options.SendQueue:
//
//	framework.Route[Ticker]("/ticks").WithQueue(framework.QueueOptions{Policy: framework.QueueDrop})
func (r RouteSpec) WithQueue(q QueueOptions) RouteSpec {
	r.queue = &q
	return r
}

func (r RouteSpec) check() error {
	if r.newHandler == nil {
		return fmt.Errorf("framework: route %q has no handler: make routes with framework.Route", r.template)
	}
	v := r.newHandler()
	if v == nil {
		return fmt.Errorf("framework: route %q (%s): the handler constructor returned nil", r.template, r.source)
	}
	h := hooksOf(v)
	if h.message == nil && h.binary == nil {
		return fmt.Errorf("%w: route %q (%s) handler *%s: add OnMessage(ctx, c, text) or OnBinary(ctx, c, data)",
			ErrNoHandler, r.template, r.source, r.handler)
	}
	return nil
}

// callerSource names the caller skip frames above its caller as "dir/file.go:line".
func callerSource(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	dir := filepath.Base(filepath.Dir(file))
	return fmt.Sprintf("%s/%s:%d", dir, filepath.Base(file), line)
}
