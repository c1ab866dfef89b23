package framework

import (
	"fmt"
	"sort"
)

// A Router maps request paths to the routes of registered blueprints. The
// most specific route wins: static segments before typed parameters (int,
// float, uuid, custom types), before str, before path. A Router is built
// before serving and only read afterwards; Register must not run
// concurrently with Match.
type Router struct {
	types  []ParamType
	mux    mux[*route]
	routes []*route
}

// route is one registered route.
type route struct {
	spec RouteSpec
	full string // prefix and template joined, as written
	// matchInfo is info(), made once for Match; its Params slice is shared
	// by every Match result.
	matchInfo RouteInfo
	pattern   *Pattern
	bp        *Blueprint
}

// RouteInfo describes a registered route.
type RouteInfo struct {
	Template  string      // the full template as written, prefix included
	Handler   string      // the handler type's name
	Blueprint string      // the blueprint's prefix
	Source    string      // where the route was declared, "dir/file.go:line"
	Params    []ParamInfo // the template's parameters, in order
}

// NewRouter returns an empty router that knows the built-in parameter types
// and the custom ones given.
func NewRouter(types ...ParamType) *Router {
	return &Router{types: types}
}

// ConflictError reports two routes that match exactly the same paths. It
// wraps ErrRouteConflict.
type ConflictError struct {
	Route, Existing RouteInfo
}

// Error names both routes and where each was declared.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("framework: route %s (%s, handler %s) conflicts with %s (%s, handler %s)",
		e.Route.Template, e.Route.Source, e.Route.Handler,
		e.Existing.Template, e.Existing.Source, e.Existing.Handler)
}

// Unwrap returns ErrRouteConflict.
func (e *ConflictError) Unwrap() error { return ErrRouteConflict }

// Register adds every route of bp, or none: when a template is invalid, a
// handler has no message hook, or a route conflicts with one already
// registered (or another of bp's), it returns the error and adds nothing.
// Conflicts are *ConflictError values.
func (r *Router) Register(bp *Blueprint) error {
	routes := make([]*route, 0, len(bp.routes))
	for _, spec := range bp.routes {
		rt, err := r.newRoute(bp, spec)
		if err != nil {
			return err
		}
		if err := conflictIn(rt, r.routes); err != nil {
			return err
		}
		if err := conflictIn(rt, routes); err != nil {
			return err
		}
		routes = append(routes, rt)
	}
	for _, rt := range routes {
		if old, conflict := r.mux.add(rt.pattern, rt); conflict {
			// Unreachable: conflicts were checked above.
			return &ConflictError{Route: rt.info(), Existing: old.info()}
		}
	}
	r.routes = append(r.routes, routes...)
	return nil
}

func (r *Router) newRoute(bp *Blueprint, spec RouteSpec) (*route, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	full := JoinTemplate(bp.prefix, spec.template)
	p, err := ParsePattern(full, r.types...)
	if err != nil {
		return nil, fmt.Errorf("%w (declared at %s)", err, spec.source)
	}
	rt := &route{spec: spec, full: full, pattern: p, bp: bp}
	rt.matchInfo = rt.info()
	return rt, nil
}

func conflictIn(rt *route, routes []*route) error {
	for _, old := range routes {
		if rt.pattern.Conflicts(old.pattern) {
			return &ConflictError{Route: rt.info(), Existing: old.info()}
		}
	}
	return nil
}

// Match returns the most specific route for an escaped URL path
// (url.URL.EscapedPath) and its decoded, typed parameters. The RouteInfo's
// Params slice is shared between calls: do not modify it.
func (r *Router) Match(escapedPath string) (RouteInfo, Params, bool) {
	rt, ps, ok := r.mux.match(escapedPath)
	if !ok {
		return RouteInfo{}, Params{}, false
	}
	return rt.matchInfo, ps, true
}

// Routes lists the registered routes from the most to the least specific.
func (r *Router) Routes() []RouteInfo {
	sorted := append([]*route(nil), r.routes...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return ComparePatterns(sorted[i].pattern, sorted[j].pattern) < 0
	})
	infos := make([]RouteInfo, len(sorted))
	for i, rt := range sorted {
		infos[i] = rt.info()
	}
	return infos
}

func (rt *route) info() RouteInfo {
	return RouteInfo{
		Template:  rt.full,
		Handler:   rt.spec.handler,
		Blueprint: rt.bp.prefix,
		Source:    rt.spec.source,
		Params:    rt.pattern.Params(),
	}
}
