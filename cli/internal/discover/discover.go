// Package discover finds the blueprints of a project by reading the Go
// files of its blueprints package with go/parser, without building or
// running anything.
//
// A blueprint file is named *_bp.go or *Bp.go (as in NoWebsocket) and is
// not a test. It declares blueprints in one of two forms:
//
//	// A package-level variable, for a blueprint without dependencies:
//	var Echo = framework.NewBlueprint("/echo",
//		framework.Route[EchoHandler](""),
//	)
//
//	// An exported constructor taking the app's dependencies (type Deps,
//	// in blueprints/deps.go), whose handlers get them through RouteFunc:
//	func Chat(d *Deps) *framework.Blueprint {
//		return framework.NewBlueprint("/chat",
//			framework.RouteFunc("", func() *ChatHandler { return &ChatHandler{deps: d} }),
//		)
//	}
//
// Every route is an argument of NewBlueprint: *framework.Blueprint has no
// methods, so a method call on a blueprint (code written for an older
// framework) is kept as a route that cannot be read, not left out.
//
// The framework may be imported under any name. Scan reads the whole
// package and reports the mistakes that would otherwise leave a blueprint
// out of the registry in silence: a blueprint declared in a file not named
// like a blueprint file, and a function of a blueprint file that returns a
// *framework.Blueprint without the constructor's signature.
package discover

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FrameworkPath is the import path of the framework package.
const FrameworkPath = "github.com/nowebsocket/nows/framework"

// EventsPath is the import path of framework/events, whose Route and
// RouteFunc make routes too.
const EventsPath = FrameworkPath + "/events"

// DepsType is the name of the type holding the app's dependencies, which
// blueprint constructors take a pointer to.
const DepsType = "Deps"

// GeneratedFile is the registry that nows writes into the package; it is
// not read back.
const GeneratedFile = "registry_gen.go"

// IsBlueprintFile reports whether the base name is a blueprint file.
func IsBlueprintFile(name string) bool {
	if strings.HasSuffix(name, "_test.go") {
		return false
	}
	return strings.HasSuffix(name, "_bp.go") || (strings.HasSuffix(name, "Bp.go") && name != "Bp.go")
}

// IsPackageFile reports whether the base name is a Go file of the package
// that Scan reads: not a test, not the generated registry.
func IsPackageFile(name string) bool {
	return strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") && name != GeneratedFile
}

// File is a source file: its base name and content.
type File struct {
	Name string
	Src  []byte
}

// ReadPackage returns the Go files of dir that Scan reads (see
// IsPackageFile), sorted by name.
func ReadPackage(dir string) ([]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !IsPackageFile(e.Name()) {
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

// Route is one route argument: framework.Route[H](template), or
// framework.RouteFunc(template, func() *H {...}), or the same from
// framework/events with events, possibly followed by .WithQueue(...) and
// .WithSubprotocols(...).
type Route struct {
	Template String
	Handler  string // the handler type as written, such as "Room"; "?" when it cannot be read
	Line     int
	// Static is false when the route cannot be read (Expr says what it
	// is): an argument that is not a Route or RouteFunc call, routes passed
	// with ..., or a method call on the blueprint.
	Static bool
	Expr   string
}

// Kind says how a blueprint is declared.
type Kind int

const (
	// Var is a package-level variable: var X = framework.NewBlueprint(...).
	Var Kind = iota
	// Constructor is a function: func X(d *Deps) *framework.Blueprint.
	Constructor
)

// Blueprint is one blueprint variable or constructor.
type Blueprint struct {
	Var    string // the variable's or the constructor's name
	Kind   Kind
	File   string // base name of its file
	Line   int
	Prefix String
	Routes []Route
	// Call is the framework.NewBlueprint call in Parsed.File (nil when
	// Unknown is set).
	Call *ast.CallExpr
	// Param is the name of a constructor's *Deps parameter; "" or "_"
	// when it has none.
	Param string
	// Unknown says why the routes of a constructor cannot be read (its
	// body calls framework.NewBlueprint other than once); "" when they can.
	Unknown string
}

// Field is one field of type Deps.
type Field struct {
	Name string
	Type string // as written, such as "*slog.Logger"
}

// Deps is the declaration of type Deps.
type Deps struct {
	File   string
	Line   int
	Fields []Field // empty when Deps is not a struct
}

// Has reports whether Deps has the field name of type typ (as written).
func (d *Deps) Has(name, typ string) bool {
	if d == nil {
		return false
	}
	for _, f := range d.Fields {
		if f.Name == name && f.Type == typ {
			return true
		}
	}
	return false
}

// Parsed is one parsed file.
type Parsed struct {
	Name       string
	Fset       *token.FileSet
	File       *ast.File
	Package    string
	Import     string // the name the framework is imported under ("" when it is not imported, "." for a dot import)
	Events     string // the name framework/events is imported under, likewise
	Blueprints []Blueprint
	// Deps is the declaration of type Deps when this file has it.
	Deps *Deps
	// BadFuncs are the functions returning a *framework.Blueprint that do
	// not have a constructor's signature: mistakes in a blueprint file,
	// helpers elsewhere.
	BadFuncs []Problem
}

// Problem is a mistake in a file of the package, with its position.
type Problem struct {
	File string // base name
	Line int
	Msg  string
	Dir  string // the package's directory as shown, such as "blueprints"; may be ""
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s:%d: %s", filepath.ToSlash(filepath.Join(p.Dir, p.File)), p.Line, p.Msg)
}

// Parse parses one file of the package and finds its blueprints, in
// declaration order, and type Deps.
func Parse(f File) (*Parsed, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, f.Name, f.Src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	p := &Parsed{Name: f.Name, Fset: fset, File: af, Package: af.Name.Name}
	for _, imp := range af.Imports {
		switch path, _ := strconv.Unquote(imp.Path.Value); path {
		case FrameworkPath:
			p.Import = importName(imp, "framework")
		case EventsPath:
			p.Events = importName(imp, "events")
		}
	}
	p.findDeps()
	if p.Import == "" || p.Import == "_" {
		return p, nil
	}
	consts := constStrings(af)
	for _, decl := range af.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				p.vars(d, consts)
			}
		case *ast.FuncDecl:
			p.constructor(d, consts)
		}
	}
	return p, nil
}

func (p *Parsed) findDeps() {
	for _, decl := range p.File.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			if ts.Name.Name != DepsType {
				continue
			}
			p.Deps = &Deps{File: p.Name, Line: p.line(ts.Name)}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fl := range st.Fields.List {
				typ := p.src(fl.Type)
				if len(fl.Names) == 0 { // embedded: named after its type
					name := strings.TrimPrefix(typ, "*")
					if i := strings.LastIndexByte(name, '.'); i >= 0 {
						name = name[i+1:]
					}
					p.Deps.Fields = append(p.Deps.Fields, Field{Name: name, Type: typ})
				}
				for _, n := range fl.Names {
					p.Deps.Fields = append(p.Deps.Fields, Field{Name: n.Name, Type: typ})
				}
			}
		}
	}
}

// vars finds the blueprint variables of a var declaration.
func (p *Parsed) vars(gd *ast.GenDecl, consts map[string]string) {
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, name := range vs.Names {
			if i >= len(vs.Values) || name.Name == "_" {
				continue
			}
			call, methods := p.newBlueprintCall(vs.Values[i])
			if call == nil {
				continue
			}
			bp := Blueprint{Var: name.Name, Kind: Var, File: p.Name, Line: p.line(name)}
			p.fill(&bp, call, methods, consts, nil)
			p.Blueprints = append(p.Blueprints, bp)
		}
	}
}

// fill sets the prefix and routes of bp from its NewBlueprint call; the
// method calls on the blueprint (see methodRoute) come last. funcs maps
// the local variables holding handler constructors (newRoom := func()
// *Room {...}) to the handler type.
func (p *Parsed) fill(bp *Blueprint, call *ast.CallExpr, methods []Route, consts, funcs map[string]string) {
	bp.Call = call
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
		bp.Routes = append(bp.Routes, Route{Line: p.line(call), Expr: p.src(call.Args[len(call.Args)-1]) + "..."})
	}
	for _, a := range args {
		bp.Routes = append(bp.Routes, p.route(a, consts, funcs))
	}
	bp.Routes = append(bp.Routes, methods...)
}

// constructor finds a blueprint constructor, or records a function that
// returns a *framework.Blueprint with another signature.
func (p *Parsed) constructor(fd *ast.FuncDecl, consts map[string]string) {
	if fd.Recv != nil || !p.returnsBlueprint(fd.Type) {
		return
	}
	param, ok := p.constructorParam(fd)
	if !ok {
		want := fd.Name.Name
		if r, n := utf8.DecodeRuneInString(want); !unicode.IsUpper(r) {
			want = string(unicode.ToUpper(r)) + want[n:]
		}
		p.BadFuncs = append(p.BadFuncs, Problem{
			File: p.Name, Line: p.line(fd.Name),
			Msg: fmt.Sprintf("%s returns a blueprint but is not a blueprint constructor, which must be func %s(d *Deps) *%s.Blueprint "+
				"(exported; the registry calls it with the app's Deps, declared in deps.go): "+
				"put what it needs in Deps and change it to that signature, or, if it is a helper, move it to a file not named *_bp.go",
				p.signature(fd), want, p.Import),
		})
		return
	}
	bp := Blueprint{Var: fd.Name.Name, Kind: Constructor, File: p.Name, Line: p.line(fd.Name), Param: param}
	if fd.Body == nil {
		bp.Unknown = fmt.Sprintf("%s has no body", fd.Name.Name)
		p.Blueprints = append(p.Blueprints, bp)
		return
	}
	funcs := handlerFuncs(p, fd.Body)
	// The NewBlueprint calls of the body (outermost chains only), and the
	// method calls on a variable holding one (b.M(...)).
	type found struct {
		call    *ast.CallExpr
		methods []Route
	}
	var calls []*found
	byVar := map[string]*found{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // another function's blueprint
		case *ast.AssignStmt:
			if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
				if id, ok := n.Lhs[0].(*ast.Ident); ok {
					if call, methods := p.newBlueprintCall(n.Rhs[0]); call != nil {
						f := &found{call, methods}
						calls = append(calls, f)
						byVar[id.Name] = f
						return false
					}
				}
			}
		case *ast.ValueSpec:
			if len(n.Names) == 1 && len(n.Values) == 1 {
				if call, methods := p.newBlueprintCall(n.Values[0]); call != nil {
					f := &found{call, methods}
					calls = append(calls, f)
					byVar[n.Names[0].Name] = f
					return false
				}
			}
		case *ast.CallExpr:
			if call, methods := p.newBlueprintCall(n); call != nil {
				calls = append(calls, &found{call, methods})
				return false
			}
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && byVar[id.Name] != nil {
					byVar[id.Name].methods = append(byVar[id.Name].methods, p.methodRoute(n, false))
				}
			}
		}
		return true
	})
	switch len(calls) {
	case 1:
		p.fill(&bp, calls[0].call, calls[0].methods, consts, funcs)
	case 0:
		bp.Unknown = fmt.Sprintf("%s does not call %s.NewBlueprint itself", fd.Name.Name, p.Import)
	default:
		bp.Unknown = fmt.Sprintf("%s calls %s.NewBlueprint %d times", fd.Name.Name, p.Import, len(calls))
	}
	p.Blueprints = append(p.Blueprints, bp)
}

// returnsBlueprint reports whether one of the results of ft is a
// *framework.Blueprint.
func (p *Parsed) returnsBlueprint(ft *ast.FuncType) bool {
	if ft.Results == nil {
		return false
	}
	for _, r := range ft.Results.List {
		if p.isBlueprintPtr(r.Type) {
			return true
		}
	}
	return false
}

func (p *Parsed) isBlueprintPtr(e ast.Expr) bool {
	star, ok := e.(*ast.StarExpr)
	return ok && p.isFramework(star.X, "Blueprint")
}

// constructorParam checks that fd is func X(d *Deps) *framework.Blueprint,
// exported, and returns the parameter's name.
func (p *Parsed) constructorParam(fd *ast.FuncDecl) (string, bool) {
	ft := fd.Type
	if !fd.Name.IsExported() || ft.TypeParams != nil || ft.Results == nil || len(ft.Results.List) != 1 ||
		len(ft.Results.List[0].Names) > 1 || ft.Params == nil || len(ft.Params.List) != 1 {
		return "", false
	}
	par := ft.Params.List[0]
	star, ok := par.Type.(*ast.StarExpr)
	if !ok || len(par.Names) > 1 {
		return "", false
	}
	if id, ok := star.X.(*ast.Ident); !ok || id.Name != DepsType {
		return "", false
	}
	if len(par.Names) == 0 {
		return "", true
	}
	return par.Names[0].Name, true
}

// signature is fd's signature as written, without its body or doc.
func (p *Parsed) signature(fd *ast.FuncDecl) string {
	return p.src(&ast.FuncDecl{Recv: fd.Recv, Name: fd.Name, Type: fd.Type})
}

// handlerFuncs maps the local variables of body that hold a handler
// constructor (newRoom := func() *Room {...}) to the handler type.
func handlerFuncs(p *Parsed, body *ast.BlockStmt) map[string]string {
	funcs := map[string]string{}
	add := func(name string, e ast.Expr) {
		if h := funcLitHandler(p, e); h != "" {
			funcs[name] = h
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok && i < len(n.Rhs) && len(n.Lhs) == len(n.Rhs) {
					add(id.Name, n.Rhs[i])
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if i < len(n.Values) {
					add(id.Name, n.Values[i])
				}
			}
		}
		return true
	})
	return funcs
}

// funcLitHandler returns H for func() *H {...}, or "".
func funcLitHandler(p *Parsed, e ast.Expr) string {
	fl, ok := ast.Unparen(e).(*ast.FuncLit)
	if !ok || fl.Type.Results == nil || len(fl.Type.Results.List) != 1 {
		return ""
	}
	star, ok := fl.Type.Results.List[0].Type.(*ast.StarExpr)
	if !ok {
		return ""
	}
	return p.src(star.X)
}

// newBlueprintCall returns the framework.NewBlueprint call at the root of
// e, and the method calls chained on it, in order, as routes that cannot
// be read (see methodRoute).
func (p *Parsed) newBlueprintCall(e ast.Expr) (*ast.CallExpr, []Route) {
	var chained []*ast.CallExpr
	for {
		call, ok := ast.Unparen(e).(*ast.CallExpr)
		if !ok {
			return nil, nil
		}
		if p.isFramework(call.Fun, "NewBlueprint") {
			var methods []Route
			for _, c := range slices.Backward(chained) {
				methods = append(methods, p.methodRoute(c, true))
			}
			return call, methods
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return nil, nil
		}
		chained = append(chained, call)
		e = sel.X
	}
}

// methodRoute is a method call on a blueprint, such as b.M(...), as a
// route that cannot be read: *framework.Blueprint has no methods, so the
// call comes from code written for an older framework, and the routes it
// may add are not left out in silence. A call chained on the NewBlueprint
// call is shown without it: .M(...).
func (p *Parsed) methodRoute(call *ast.CallExpr, chained bool) Route {
	sel := call.Fun.(*ast.SelectorExpr)
	expr := p.src(call)
	if chained {
		expr = "." + p.src(&ast.CallExpr{Fun: sel.Sel, Args: call.Args, Ellipsis: call.Ellipsis})
	}
	return Route{Line: p.line(sel.Sel), Expr: expr}
}

// importName is the name an import is used under.
func importName(imp *ast.ImportSpec, def string) string {
	if imp.Name != nil {
		return imp.Name.Name
	}
	return def
}

// isFramework reports whether e names the framework's identifier name.
func (p *Parsed) isFramework(e ast.Expr, name string) bool { return isIn(e, p.Import, name) }

// isEvents reports whether e names framework/events's identifier name.
func (p *Parsed) isEvents(e ast.Expr, name string) bool {
	return p.Events != "" && p.Events != "_" && isIn(e, p.Events, name)
}

// isIn reports whether e names the identifier name of the package
// imported as pkg.
func isIn(e ast.Expr, pkg, name string) bool {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && x.Name == pkg && e.Sel.Name == name
	case *ast.Ident:
		return pkg == "." && e.Name == name
	}
	return false
}

func (p *Parsed) route(a ast.Expr, consts, funcs map[string]string) Route {
	r := Route{Line: p.line(a), Expr: p.src(a)}
	call, ok := ast.Unparen(a).(*ast.CallExpr)
	if !ok {
		return r
	}
	// framework.Route[H]("/x").WithQueue(...).WithSubprotocols(...)
	for {
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "WithQueue" && sel.Sel.Name != "WithSubprotocols" {
			break
		}
		inner, ok := ast.Unparen(sel.X).(*ast.CallExpr)
		if !ok {
			return r
		}
		call = inner
	}
	fun, typeArg := call.Fun, ast.Expr(nil)
	if idx, ok := fun.(*ast.IndexExpr); ok {
		fun, typeArg = idx.X, idx.Index
	}
	switch {
	case p.isFramework(fun, "Route") && typeArg != nil && len(call.Args) == 1,
		p.isEvents(fun, "Route") && typeArg != nil && len(call.Args) >= 1:
		r.Handler = p.src(typeArg)
	case p.isFramework(fun, "RouteFunc") && len(call.Args) == 2,
		p.isEvents(fun, "RouteFunc") && len(call.Args) >= 2:
		r.Handler = "?"
		if typeArg != nil {
			r.Handler = p.src(typeArg)
		} else if h := funcLitHandler(p, call.Args[1]); h != "" {
			r.Handler = h
		} else if id, ok := call.Args[1].(*ast.Ident); ok && funcs[id.Name] != "" {
			r.Handler = funcs[id.Name]
		}
	default:
		return r
	}
	r.Static = true
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

// Package is what Scan finds in the files of a blueprints package.
type Package struct {
	// Files are the parsed blueprint files, sorted by name.
	Files []*Parsed
	// Deps is the declaration of type Deps, or nil.
	Deps *Deps
}

// Blueprints returns every blueprint, sorted by file name, then in
// declaration order.
func (pkg *Package) Blueprints() []Blueprint {
	var bps []Blueprint
	for _, f := range pkg.Files {
		bps = append(bps, f.Blueprints...)
	}
	return bps
}

// Scan parses the files of a blueprints package (any of its non-test Go
// files; those that are not blueprint files are only checked) and returns
// its blueprint files and type Deps. dir is the package's directory as
// shown in errors, such as "blueprints".
//
// It fails, naming every file and line and what to do, when a blueprint
// (a framework.NewBlueprint variable or a constructor) is declared in a
// file that is not a blueprint file, so the registry would leave it out,
// or when a function of a blueprint file returns a *framework.Blueprint
// without a constructor's signature. A file that does not parse is an
// error too.
func Scan(dir string, files []File) (*Package, error) {
	files = append([]File(nil), files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	pkg := &Package{}
	var problems []error
	for _, f := range files {
		p, err := Parse(f)
		if err != nil {
			return nil, err
		}
		if p.Deps != nil && pkg.Deps == nil {
			pkg.Deps = p.Deps
		}
		if IsBlueprintFile(f.Name) {
			pkg.Files = append(pkg.Files, p)
			for _, bad := range p.BadFuncs {
				bad.Dir = dir
				problems = append(problems, &bad)
			}
			continue
		}
		for _, bp := range p.Blueprints {
			what := "blueprint " + bp.Var
			if bp.Kind == Constructor {
				what = "blueprint constructor " + bp.Var
			}
			problems = append(problems, &Problem{
				File: f.Name, Line: bp.Line, Dir: dir,
				Msg: fmt.Sprintf("%s is declared in a file not named *_bp.go, so the registry would leave it out: "+
					"rename %s to %s (or move %s into a *_bp.go file)",
					what, f.Name, BlueprintFileName(f.Name), bp.Var),
			})
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return pkg, nil
}

// BlueprintFileName is the blueprint file name for a Go file name:
// chat.go → chat_bp.go.
func BlueprintFileName(name string) string {
	return strings.TrimSuffix(name, ".go") + "_bp.go"
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
