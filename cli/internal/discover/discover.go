// Package discover finds the blueprints of a project by reading its
// blueprint files with go/parser, without building or running anything.
//
// A blueprint file is named *_bp.go or *Bp.go (as in NoWebsocket) and is
// not a test. A blueprint is a package-level variable initialised with a
// call to framework.NewBlueprint (under any import name), possibly followed
// by .Handle(...) calls:
//
//	var Chat = framework.NewBlueprint("/chat",
//		framework.Route[ChatHandler](""),
//	)
package discover

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FrameworkPath is the import path of the framework package.
const FrameworkPath = "github.com/nowebsocket/nows/framework"

// IsBlueprintFile reports whether the base name is a blueprint file.
func IsBlueprintFile(name string) bool {
	if strings.HasSuffix(name, "_test.go") {
		return false
	}
	return strings.HasSuffix(name, "_bp.go") || (strings.HasSuffix(name, "Bp.go") && name != "Bp.go")
}

// File is a source file: its base name and content.
type File struct {
	Name string
	Src  []byte
}

// ReadDir returns the blueprint files of dir, sorted by name.
func ReadDir(dir string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !IsBlueprintFile(e.Name()) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: e.Name(), Src: src})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// String is a string argument: its value when it is a constant that can be
// read from the file (a literal, a concatenation, a constant of the same
// file), or the source text of the expression when it is not.
type String struct {
	Value  string
	Static bool   // Value is known
	Expr   string // the expression as written
	Line   int
}

// Route is one framework.Route[H](template) argument.
type Route struct {
	Template String
	Handler  string // the type argument as written, such as "Room"
	Line     int
	Static   bool // false when the argument is not a framework.Route call (Expr says what it is)
	Expr     string
}

// Blueprint is one blueprint variable.
type Blueprint struct {
	Var    string
	File   string // base name of its file
	Line   int
	Prefix String
	Routes []Route
	// Call is the framework.NewBlueprint call in Parsed.File.
	Call *ast.CallExpr
}

// Parsed is one parsed blueprint file.
type Parsed struct {
	Name       string
	Fset       *token.FileSet
	File       *ast.File
	Package    string
	Import     string // the name the framework is imported under ("" when it is not imported, "." for a dot import)
	Blueprints []Blueprint
}

// Parse parses one blueprint file and finds its blueprints, in declaration
// order.
func Parse(f File) (*Parsed, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, f.Name, f.Src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	p := &Parsed{Name: f.Name, Fset: fset, File: af, Package: af.Name.Name}
	for _, imp := range af.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == FrameworkPath {
			p.Import = "framework"
			if imp.Name != nil {
				p.Import = imp.Name.Name
			}
		}
	}
	if p.Import == "" || p.Import == "_" {
		return p, nil
	}
	consts := constStrings(af)
	for _, decl := range af.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) || name.Name == "_" {
					continue
				}
				call, handles := p.newBlueprintCall(vs.Values[i])
				if call == nil {
					continue
				}
				bp := Blueprint{Var: name.Name, File: f.Name, Line: fset.Position(name.Pos()).Line, Call: call}
				if len(call.Args) > 0 {
					bp.Prefix = p.str(call.Args[0], consts)
				} else {
					bp.Prefix = String{Expr: "(missing)", Line: bp.Line}
				}
				args := call.Args
				if len(args) > 0 {
					args = args[1:]
				}
				if call.Ellipsis.IsValid() {
					args = nil // NewBlueprint("/x", routes...): not readable
					bp.Routes = append(bp.Routes, Route{Line: bp.Line, Expr: p.src(call.Args[len(call.Args)-1]) + "..."})
				}
				for _, h := range handles {
					args = append(args, h.Args...)
				}
				for _, a := range args {
					bp.Routes = append(bp.Routes, p.route(a, consts))
				}
				p.Blueprints = append(p.Blueprints, bp)
			}
		}
	}
	return p, nil
}

// newBlueprintCall returns the framework.NewBlueprint call at the root of
// e, and the .Handle calls chained on it, in order.
func (p *Parsed) newBlueprintCall(e ast.Expr) (*ast.CallExpr, []*ast.CallExpr) {
	var handles []*ast.CallExpr
	for {
		call, ok := ast.Unparen(e).(*ast.CallExpr)
		if !ok {
			return nil, nil
		}
		if p.isFramework(call.Fun, "NewBlueprint") {
			for i, j := 0, len(handles)-1; i < j; i, j = i+1, j-1 {
				handles[i], handles[j] = handles[j], handles[i]
			}
			return call, handles
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Handle" {
			return nil, nil
		}
		handles = append(handles, call)
		e = sel.X
	}
}

// isFramework reports whether e names the framework's identifier name.
func (p *Parsed) isFramework(e ast.Expr, name string) bool {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && x.Name == p.Import && e.Sel.Name == name
	case *ast.Ident:
		return p.Import == "." && e.Name == name
	}
	return false
}

func (p *Parsed) route(a ast.Expr, consts map[string]string) Route {
	r := Route{Line: p.line(a), Expr: p.src(a)}
	call, ok := a.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return r
	}
	idx, ok := call.Fun.(*ast.IndexExpr)
	if !ok || !p.isFramework(idx.X, "Route") {
		return r
	}
	r.Static = true
	r.Handler = p.src(idx.Index)
	r.Template = p.str(call.Args[0], consts)
	return r
}

func (p *Parsed) str(e ast.Expr, consts map[string]string) String {
	s := String{Expr: p.src(e), Line: p.line(e)}
	s.Value, s.Static = constValue(e, consts)
	return s
}

func (p *Parsed) line(n ast.Node) int { return p.Fset.Position(n.Pos()).Line }

func (p *Parsed) src(n ast.Node) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, p.Fset, n); err != nil {
		return fmt.Sprintf("%T", n)
	}
	return b.String()
}

// constValue evaluates string literals, their concatenation and the string
// constants of the file.
func constValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := ast.Unparen(e).(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		v, err := strconv.Unquote(e.Value)
		return v, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok1 := constValue(e.X, consts)
		y, ok2 := constValue(e.Y, consts)
		return x + y, ok1 && ok2
	case *ast.Ident:
		v, ok := consts[e.Name]
		return v, ok
	}
	return "", false
}

// constStrings returns the package-level string constants of f that can be
// evaluated in order.
func constStrings(f *ast.File) map[string]string {
	consts := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if v, ok := constValue(vs.Values[i], consts); ok {
						consts[name.Name] = v
					}
				}
			}
		}
	}
	return consts
}
