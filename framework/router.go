package framework

import (
	"fmt"
	"slices"
	"strings"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/internal/route"
)

// router maps request paths to the routes of registered blueprints. It is
// built before serving and only read afterwards.
type router struct {
	types  []route.Type
	mux    route.Mux[*boundRoute]
	routes []*boundRoute
	accept *websocket.AcceptOptions // the server's, for routes without subprotocols of their own
}

// boundRoute is one registered route.
type boundRoute struct {
	spec    RouteSpec
	full    string // prefix and template joined, as written
	pattern *route.Pattern
	bp      *Blueprint
	accept  *websocket.AcceptOptions // the handshake's options
}

// RouteInfo describes a registered route, for tables like `nows routes`.
type RouteInfo struct {
	Template string `json:"template"` // the full template as written, prefix included
	Handler  string `json:"handler"`  // the handler type's name
	Source   string `json:"source"`   // where the route was declared, "dir/file.go:line"
}

func newRouter(types map[string]func(string) (any, error), accept *websocket.AcceptOptions) *router {
	r := &router{accept: accept}
	for name, parse := range types {
		r.types = append(r.types, route.Type{Name: name, Parse: parse})
	}
	slices.SortFunc(r.types, func(a, b route.Type) int { return strings.Compare(a.Name, b.Name) })
	return r
}

// register adds every route of bp, or none: when a template is invalid, a
// handler is bad, or a route conflicts with one already registered (or
// another of bp's), it returns the error and adds nothing.
func (r *router) register(bp *Blueprint) error {
	routes := make([]*boundRoute, 0, len(bp.routes))
	for _, spec := range bp.routes {
		rt, err := r.newRoute(bp, spec)
		if err != nil {
			return err
		}
		for _, old := range slices.Concat(r.routes, routes) {
			if rt.pattern.Conflicts(old.pattern) {
				return conflict(rt, old)
			}
		}
		routes = append(routes, rt)
	}
	for _, rt := range routes {
		if old, clash := r.mux.Add(rt.pattern, rt); clash {
			return conflict(rt, old) // unreachable: checked above
		}
	}
	r.routes = append(r.routes, routes...)
	return nil
}

func conflict(rt, old *boundRoute) error {
	return fmt.Errorf("%w: %s (%s, handler %s) matches the same paths as %s (%s, handler %s): change one template or remove one route",
		ErrRouteConflict, rt.full, rt.spec.source, rt.spec.handler, old.full, old.spec.source, old.spec.handler)
}

func (r *router) newRoute(bp *Blueprint, spec RouteSpec) (*boundRoute, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	full := route.Join(bp.prefix, spec.template)
	if full == reservedPrefix[:len(reservedPrefix)-1] || strings.HasPrefix(full, reservedPrefix) {
		return nil, fmt.Errorf("%w: %s (%s, handler %s): the paths under %s are the framework's (the JavaScript client, /_nows/nows.js): choose another prefix or template",
			ErrRouteConflict, full, spec.source, spec.handler, reservedPrefix)
	}
	p, err := route.Parse(full, r.types...)
	if err != nil {
		return nil, fmt.Errorf("%w (declared at %s)", err, spec.source)
	}
	accept := r.accept
	if spec.protos != nil {
		a := *r.accept
		a.Subprotocols = spec.protos
		accept = &a
	}
	return &boundRoute{spec: spec, full: full, pattern: p, bp: bp, accept: accept}, nil
}

// infos lists the registered routes from the most to the least specific.
func (r *router) infos() []RouteInfo {
	sorted := slices.Clone(r.routes)
	slices.SortStableFunc(sorted, func(a, b *boundRoute) int { return route.Compare(a.pattern, b.pattern) })
	infos := make([]RouteInfo, len(sorted))
	for i, rt := range sorted {
		infos[i] = RouteInfo{Template: rt.full, Handler: rt.spec.handler, Source: rt.spec.source}
	}
	return infos
}
