package generate

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nowebsocket/nows/cli/internal/discover"
	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/scaffold"
	"github.com/nowebsocket/nows/cli/internal/ui"
	pattern "github.com/nowebsocket/nows/internal/route"
)

// HandlerOptions are the options of nows handler add.
type HandlerOptions struct {
	Blueprint string // the blueprint's name (chat) or variable (Chat)
	Name      string // the handler type, such as Room
	Route     string // relative to the blueprint's prefix; defaults to /room for Room
	Types     []string
	// Events writes a handler with typed events (framework/events): a
	// request and an event, declared on its route.
	Events bool
	scaffold.Options
}

// AddHandler adds a handler type and its route to an existing blueprint,
// and a test for it. The blueprint file is edited at the places its syntax
// tree points to (the end of the NewBlueprint call, the import list, the
// end of the file); the rest of the file is kept byte for byte, then the
// result is gofmt'ed and parsed again to check the new route is there.
func AddHandler(u *ui.UI, templates fs.FS, p *project.Project, opt HandlerOptions) error {
	if err := checkIdent("handler", opt.Name); err != nil {
		return err
	}
	file, err := findBlueprintFile(p, opt.Blueprint)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(p.Blueprints, file))
	if err != nil {
		return err
	}
	pf, err := discover.Parse(discover.File{Name: file, Src: src})
	if err != nil {
		return err
	}
	bp, err := pickBlueprint(pf, opt.Blueprint)
	if err != nil {
		return err
	}
	if pf.Import == "." {
		return fmt.Errorf("blueprints/%s imports the framework with a dot: nows handler add needs a package name; import it as framework", file)
	}
	if bp.Unknown != "" {
		return fmt.Errorf("blueprints/%s:%d: %s, so nows cannot tell where its routes go: add the route by hand", file, bp.Line, bp.Unknown)
	}
	if !bp.Prefix.Static {
		return fmt.Errorf("blueprints/%s:%d: the prefix of %s is not a constant (%s): add the route by hand", file, bp.Line, bp.Var, bp.Prefix.Expr)
	}
	if bp.Call.Ellipsis.IsValid() {
		return fmt.Errorf("blueprints/%s:%d: %s passes its routes with ...: add the route by hand", file, bp.Line, bp.Var)
	}
	names, err := declared(p.Blueprints, false)
	if err != nil {
		return err
	}
	taken := []string{opt.Name}
	if opt.Events {
		taken = append(taken, opt.Name+"Text")
	}
	for _, id := range taken {
		if at, ok := names[id]; ok {
			return fmt.Errorf("%s is already declared in blueprints/%s: choose another handler name", id, at)
		}
	}
	if opt.Events && (pf.Events == "_" || pf.Events == ".") {
		return fmt.Errorf("blueprints/%s imports framework/events as %s: nows handler add --events needs a package name; import it as events", file, pf.Events)
	}
	route := opt.Route
	if route == "" {
		route = "/" + snake(opt.Name)
	}
	if err := checkTemplatePart("route", route); err != nil {
		return err
	}
	if err := checkNewRoute(p, bp.Prefix.Value, route, "", opt.Types); err != nil {
		return err
	}
	d := BlueprintData{
		Package: pf.Package, Name: opt.Blueprint, Var: bp.Var, Prefix: bp.Prefix.Value, Route: route,
		Full: pattern.Join(bp.Prefix.Value, route), Handler: opt.Name,
		TestName: "Test" + bp.Var + strings.TrimPrefix(opt.Name, bp.Var),
		Events:   opt.Events, EventPrefix: snake(opt.Name),
	}
	if d.Path, err = samplePath(d.Full, opt.Types); err != nil {
		return err
	}
	// A constructor's handlers get the app's Deps; a variable's cannot.
	if bp.Kind == discover.Constructor {
		pkgFiles, err := discover.ReadPackage(p.Blueprints)
		if err != nil {
			return err
		}
		scanned, err := discover.Scan(registry.Dir, pkgFiles)
		if err != nil {
			return err
		}
		d.setDeps(bp.Param, scanned.Deps)
	} else {
		d.setDeps("", nil)
	}

	// The blueprint file.
	snippet, err := scaffold.RenderFile(templates, handlerTemplate(opt.Events), d, true)
	if err != nil {
		return err
	}
	evImport := "events"
	if pf.Events != "" {
		evImport = pf.Events
	}
	if snippet, err = renamePackages(snippet, map[string]string{"framework": pf.Import, "events": evImport}); err != nil {
		return err
	}
	edits := []edit{addArg(pf.Fset, src, bp.Call, routeArg(pf.Import, evImport, d)), {off: len(src), text: "\n" + string(snippet)}}
	imports := []string{"context"}
	if opt.Events {
		imports = append(imports, "errors", discover.EventsPath)
	}
	if d.Log == "slog" {
		imports = append(imports, "log/slog")
	}
	edits = append(edits, addImports(pf.Fset, pf.File, imports...)...)
	newSrc, err := applyEdits(src, edits)
	if err != nil {
		return fmt.Errorf("editing blueprints/%s: %w", file, err)
	}
	if err := checkAdded(file, newSrc, bp.Var, opt.Name); err != nil {
		return err
	}
	files := []scaffold.File{{Path: file, Data: newSrc}}

	// Its test.
	testFile := strings.TrimSuffix(file, ".go") + "_test.go"
	test, err := os.ReadFile(filepath.Join(p.Blueprints, testFile))
	switch {
	case os.IsNotExist(err):
		test, err = scaffold.RenderFile(templates, "blueprint/bp_test.go.tmpl", d, false)
		if err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if test, err = appendTest(templates, testFile, test, d); err != nil {
			return err
		}
	}
	files = append(files, scaffold.File{Path: testFile, Data: test})

	reg, err := planRegistry(p, files, nil)
	if err != nil {
		return err
	}
	opt.Options.Show = "blueprints/"
	opt.Options.Update = true
	if err := scaffold.Apply(u, p.Blueprints, files, opt.Options); err != nil {
		return err
	}
	if err := applyRegistry(u, p, reg, opt.DryRun); err != nil {
		return err
	}
	if !opt.DryRun {
		u.Success("%s serves %s with %s", bp.Var, d.Full, opt.Name)
	}
	return nil
}

// handlerTemplate is the template of the handler nows handler add appends.
func handlerTemplate(events bool) string {
	if events {
		return "blueprint/events_handler.go.tmpl"
	}
	return "blueprint/handler.go.tmpl"
}

// routeArg is the new route, as an argument of NewBlueprint: with typed
// events, the events package's Route or RouteFunc with the handler's
// request and event.
func routeArg(fw, ev string, d BlueprintData) string {
	pkg, specs := fw, ""
	if d.Events {
		pkg = ev
		specs = fmt.Sprintf(",\n%s.Handle(%q, (*%s).Echo),\n%s.On(%q, (*%s).Note),\n",
			ev, d.EventPrefix+".echo", d.Handler, ev, d.EventPrefix+".note", d.Handler)
	}
	if d.Deps {
		return fmt.Sprintf("%s.RouteFunc(%s, func() *%s { return &%s{deps: %s} }%s)", pkg, strconv.Quote(d.Route), d.Handler, d.Handler, d.Param, specs)
	}
	return fmt.Sprintf("%s.Route[%s](%s%s)", pkg, d.Handler, strconv.Quote(d.Route), specs)
}

// pickBlueprint returns the blueprint of the file that name designates.
func pickBlueprint(pf *discover.Parsed, name string) (*discover.Blueprint, error) {
	switch len(pf.Blueprints) {
	case 0:
		return nil, fmt.Errorf("blueprints/%s declares no blueprint (var X = framework.NewBlueprint(...), or func X(d *Deps) *framework.Blueprint)", pf.Name)
	case 1:
		return &pf.Blueprints[0], nil
	}
	var vars []string
	for i, bp := range pf.Blueprints {
		if bp.Var == name || bp.Var == camel(name, "") {
			return &pf.Blueprints[i], nil
		}
		vars = append(vars, bp.Var)
	}
	return nil, fmt.Errorf("blueprints/%s declares several blueprints (%s): name one of them instead of %q", pf.Name, strings.Join(vars, ", "), name)
}

// appendTest adds the handler's test function to an existing test file.
func appendTest(templates fs.FS, name string, src []byte, d BlueprintData) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	for _, decl := range f.Decls {
		if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == d.TestName {
			return nil, fmt.Errorf("blueprints/%s already has %s: rename it or remove it first", name, d.TestName)
		}
	}
	tmpl := "blueprint/handler_test.go.tmpl"
	if d.Events {
		tmpl = "blueprint/events_handler_test.go.tmpl"
	}
	snippet, err := scaffold.RenderFile(templates, tmpl, d, true)
	if err != nil {
		return nil, err
	}
	edits := []edit{{off: len(src), text: "\n" + string(snippet)}}
	imports := []string{"testing", "github.com/nowebsocket/nows/framework/wstest"}
	if d.Events {
		imports = append(imports, "github.com/coder/websocket", discover.EventsPath)
	}
	if d.TestSlog {
		imports = append(imports, "log/slog")
	}
	edits = append(edits, addImports(fset, f, imports...)...)
	out, err := applyEdits(src, edits)
	if err != nil {
		return nil, fmt.Errorf("editing blueprints/%s: %w", name, err)
	}
	return out, nil
}

// checkAdded parses the edited file and checks the blueprint has the route.
func checkAdded(file string, src []byte, bpVar, handler string) error {
	pf, err := discover.Parse(discover.File{Name: file, Src: src})
	if err != nil {
		return fmt.Errorf("the edited blueprints/%s does not parse (please report this): %w", file, err)
	}
	for _, bp := range pf.Blueprints {
		if bp.Var != bpVar {
			continue
		}
		for _, r := range bp.Routes {
			if r.Handler == handler {
				return nil
			}
		}
	}
	return fmt.Errorf("the edited blueprints/%s lacks the route of %s (please report this)", file, handler)
}

// An edit inserts text at a byte offset.
type edit struct {
	off  int
	text string
}

// applyEdits inserts the edits (at distinct or equal offsets, in order)
// and formats the result.
func applyEdits(src []byte, edits []edit) ([]byte, error) {
	slices.SortStableFunc(edits, func(a, b edit) int { return a.off - b.off })
	var b bytes.Buffer
	last := 0
	for _, e := range edits {
		b.Write(src[last:e.off])
		b.WriteString(e.text)
		last = e.off
	}
	b.Write(src[last:])
	return format.Source(b.Bytes())
}

// addArg returns the edit appending arg to the arguments of call: after the
// trailing comma of a call written one argument per line, else after the
// last argument.
func addArg(fset *token.FileSet, src []byte, call *ast.CallExpr, arg string) edit {
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	if len(call.Args) == 0 {
		return edit{off: off(call.Rparen), text: arg}
	}
	end := off(call.Args[len(call.Args)-1].End())
	between := src[end:off(call.Rparen)]
	if i := bytes.IndexByte(between, ','); i >= 0 {
		return edit{off: end + i + 1, text: "\n" + arg + ","}
	}
	return edit{off: end, text: ",\n" + arg + ",\n"}
}

// addImports returns the edits importing the paths f does not import yet:
// the standard library's at the top of the import block, the others after
// the block's last import from outside it, where it has one.
func addImports(fset *token.FileSet, f *ast.File, paths ...string) []edit {
	var std, other []string
	for _, p := range paths {
		if slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == strconv.Quote(p) }) {
			continue
		}
		if isStd(p) {
			std = append(std, strconv.Quote(p))
		} else {
			other = append(other, strconv.Quote(p))
		}
	}
	if len(std)+len(other) == 0 {
		return nil
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT || !gd.Lparen.IsValid() {
			continue
		}
		var lastOther ast.Spec
		for _, spec := range gd.Specs {
			if p, _ := strconv.Unquote(spec.(*ast.ImportSpec).Path.Value); !isStd(p) {
				lastOther = spec
			}
		}
		if lastOther == nil {
			return []edit{{off: off(gd.Lparen) + 1, text: "\n" + strings.Join(append(std, other...), "\n")}}
		}
		edits := []edit{{off: off(lastOther.End()), text: "\n" + strings.Join(other, "\n")}}
		if len(std) > 0 {
			edits = append(edits, edit{off: off(gd.Lparen) + 1, text: "\n" + strings.Join(std, "\n")})
		}
		return edits
	}
	// No import block: add one after the package clause.
	return []edit{{off: off(f.Name.End()), text: "\n\nimport (\n" + strings.Join(append(std, other...), "\n") + "\n)"}}
}

// isStd reports whether an import path is of the standard library: its
// first element has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// renamePackages rewrites pkg.X to names[pkg].X in a Go snippet, for the
// packages a file imports under another name.
func renamePackages(snippet []byte, names map[string]string) ([]byte, error) {
	same := true
	for from, to := range names {
		same = same && from == to
	}
	if same {
		return snippet, nil
	}
	const head = "package x\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", head+string(snippet), parser.ParseComments)
	if err != nil {
		return nil, err
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && names[id.Name] != "" {
				id.Name = names[id.Name]
			}
		}
		return true
	})
	var b bytes.Buffer
	if err := format.Node(&b, fset, f); err != nil {
		return nil, err
	}
	return bytes.TrimPrefix(b.Bytes(), []byte("package x\n")), nil
}
