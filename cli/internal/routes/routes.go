// Package routes builds the route table of a project, two ways. FromApp
// takes the routes the app itself registered (its --routes output, see
// Ask), so that routes registered in main.go or built from configuration
// are there too. Analyze reads the blueprint files without building or
// running the app: the templates are read by package discover and checked
// with the framework's own pattern parser, in the order the server
// registers them, so conflicts show before the app runs; its rows also give
// the app's rows their blueprint and prefix.
package routes

import (
	"cmp"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nowebsocket/nows/cli/internal/discover"
	"github.com/nowebsocket/nows/internal/route"
)

// Status is the state of one route.
type Status string

const (
	OK       Status = "ok"       // registered without error
	Conflict Status = "conflict" // matches exactly the paths of an earlier route: Register fails, the app does not start
	Invalid  Status = "invalid"  // the template does not parse: Register fails, the app does not start
	Unknown  Status = "unknown"  // not a literal: cannot be analysed statically
)

// Param is one parameter of a template.
type Param struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Route is one route of the table.
type Route struct {
	Template  string  `json:"template"`            // prefix and template as written
	Canonical string  `json:"canonical,omitempty"` // the framework's canonical form
	Params    []Param `json:"params"`
	Handler   string  `json:"handler"`
	Blueprint string  `json:"blueprint"` // the blueprint variable or constructor; "" when not declared in the blueprint files
	Prefix    string  `json:"prefix"`
	File      string  `json:"file"` // relative to the project root, slash-separated
	Line      int     `json:"line"`
	Status    Status  `json:"status"`
	Problem   string  `json:"problem,omitempty"`

	pattern *route.Pattern
	order   int
}

// Source is "file:line" (the file alone when the line is not known).
func (r *Route) Source() string {
	if r.Line == 0 {
		return r.File
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// Table is the route table of a project.
type Table struct {
	// Routes are sorted from the most to the least specific; routes with
	// problems come last, in declaration order.
	Routes []*Route
	// Blueprints counts the blueprints found in the blueprint files (0 in
	// a table FromApp).
	Blueprints int
	// FromApp is true for the routes the app registered, false for those
	// read from the blueprint files.
	FromApp bool
}

// Problems counts the routes whose status is Conflict or Invalid: each
// makes Register fail, so the app does not start.
func (t *Table) Problems() int {
	n := 0
	for _, r := range t.Routes {
		if r.Status == Conflict || r.Status == Invalid {
			n++
		}
	}
	return n
}

// Analyze reads the Go files of the blueprints package in dir (named in
// File as rel/file.go) and builds the table. types are the custom
// parameter types the app registers; their values are not checked.
func Analyze(dir, rel string, types []string) (*Table, error) {
	files, err := discover.ReadPackage(dir)
	if err != nil {
		return nil, err
	}
	return FromFiles(files, rel, types)
}

// FromFiles builds the table of the files of a blueprints package, in the
// order the registry lists the blueprints (by file name, then in
// declaration order). As in Server.Register, a blueprint with an invalid or
// conflicting route adds none of its routes, so later blueprints are only
// checked against the blueprints before them that register; the routes of
// such a blueprint that are fine by themselves stay OK. It fails on the
// mistakes discover.Scan reports, such as a blueprint declared in a file
// not named *_bp.go.
func FromFiles(files []discover.File, rel string, types []string) (*Table, error) {
	custom := make([]route.Type, len(types))
	for i, t := range types {
		custom[i] = route.Type{Name: t, Parse: func(s string) (any, error) { return s, nil }}
	}
	t := &Table{}
	var served []*Route
	order := 0
	pkg, err := discover.Scan(rel, files)
	if err != nil {
		return nil, err
	}
	for _, p := range pkg.Files {
		for _, bp := range p.Blueprints {
			t.Blueprints++
			file := filepath.ToSlash(filepath.Join(rel, p.Name))
			if bp.Unknown != "" {
				order++
				t.Routes = append(t.Routes, &Route{
					Blueprint: bp.Var, File: file, Line: bp.Line, Params: []Param{}, order: order,
					Status: Unknown, Problem: "cannot analyse statically: " + bp.Unknown,
				})
				continue
			}
			var mine []*Route
			failed := false
			for _, dr := range bp.Routes {
				order++
				r := &Route{
					Handler: dr.Handler, Blueprint: bp.Var, Prefix: bp.Prefix.Value,
					File: file, Line: dr.Line,
					Params: []Param{}, order: order,
				}
				t.Routes = append(t.Routes, r)
				switch {
				case !bp.Prefix.Static:
					r.Status, r.Problem = Unknown, fmt.Sprintf("cannot analyse statically: prefix %s is not a constant", bp.Prefix.Expr)
					r.Line = bp.Prefix.Line
					continue
				case !dr.Static:
					r.Status, r.Problem = Unknown, fmt.Sprintf("cannot analyse statically: %s is not a framework.Route or framework.RouteFunc call", dr.Expr)
					continue
				case !dr.Template.Static:
					r.Status, r.Problem = Unknown, fmt.Sprintf("cannot analyse statically: template %s is not a constant", dr.Template.Expr)
					continue
				}
				r.Template = route.Join(bp.Prefix.Value, dr.Template.Value)
				if r.Template == "/_nows" || strings.HasPrefix(r.Template, "/_nows/") {
					r.Status, r.Problem = Invalid, "the paths under /_nows/ are the framework's (the JavaScript client): the app does not start"
					failed = true
					continue
				}
				pat, err := route.Parse(r.Template, custom...)
				if err != nil {
					r.Status, r.Problem = Invalid, err.Error()+": the app does not start"
					failed = true
					continue
				}
				r.pattern, r.Canonical, r.Status = pat, pat.String(), OK
				for _, pi := range pat.Params() {
					r.Params = append(r.Params, Param{Name: pi.Name, Type: pi.Type})
				}
				for _, other := range slices.Concat(served, mine) {
					if pat.Conflicts(other.pattern) {
						r.Status = Conflict
						r.Problem = fmt.Sprintf("matches the same paths as %s (%s, handler %s): the app does not start",
							other.Template, other.Source(), other.Handler)
						failed = true
						break
					}
				}
				if r.Status == OK {
					mine = append(mine, r)
				}
			}
			if !failed { // else Register adds none of the blueprint's routes
				served = append(served, mine...)
			}
		}
	}
	slices.SortStableFunc(t.Routes, func(a, b *Route) int {
		if (a.Status == OK) != (b.Status == OK) {
			if a.Status == OK {
				return -1
			}
			return 1
		}
		if a.Status == OK {
			if c := route.Compare(a.pattern, b.pattern); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.order, b.order)
	})
	return t, nil
}

// Pattern returns the route's parsed template, or nil.
func (r *Route) Pattern() *route.Pattern { return r.pattern }

// Match returns the route a request for path would reach (the most
// specific OK route that matches) and its parameters. path may be
// given decoded ("/echo/hello world") or escaped (with "%").
func (t *Table) Match(path string) (*Route, route.Values, bool) {
	escaped := path
	if !strings.Contains(path, "%") {
		escaped = (&url.URL{Path: path}).EscapedPath()
	}
	for _, r := range t.Routes {
		if r.Status != OK {
			continue
		}
		if ps, ok := r.pattern.Match(escaped); ok {
			return r, ps, true
		}
	}
	return nil, route.Values{}, false
}
