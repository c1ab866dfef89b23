package generate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nowebsocket/nows/cli/internal/discover"
	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/routes"
	"github.com/nowebsocket/nows/cli/internal/scaffold"
	"github.com/nowebsocket/nows/cli/internal/ui"
	pattern "github.com/nowebsocket/nows/internal/route"
)

// BlueprintData is what the blueprint templates see.
type BlueprintData struct {
	Package  string // the Go package, blueprints
	Name     string // the blueprint's name, such as chat (file chat_bp.go)
	Var      string // the blueprint variable, such as Chat
	Prefix   string // its prefix, such as /chat
	Route    string // the route's template relative to the prefix
	Full     string // prefix and template joined
	Handler  string // the handler type, such as ChatHandler
	TestName string // the test function, such as TestChat
	Path     string // a path the route matches, for the test

	// Typed events (nows handler add --events): the handler's methods are
	// the request EventPrefix.echo and the event EventPrefix.note.
	Events      bool
	EventPrefix string // the handler's name in snake_case, such as room

	// The handler's dependencies: a handler of a blueprint constructor
	// gets the app's Deps through framework.RouteFunc.
	Deps     bool   // the handler has a deps *Deps field
	Param    string // the constructor's *Deps parameter, such as d
	Log      string // what the handler logs with: h.deps.Logger, or slog
	Greeting bool   // the handler sends h.deps.Greeting first
	NewBP    string // what makes the blueprint in tests: Chat, or Chat(&Deps{...})
	Greet    string // the greeting the test expects first, or ""
	TestSlog bool   // the test uses log/slog
}

// testGreeting is the greeting the generated tests give their Deps.
const testGreeting = "welcome"

// setDeps fills the dependency fields of d for a handler of a blueprint
// constructor with the parameter param ("" for a blueprint variable, whose
// handlers get no Deps), using the fields deps has: Logger *slog.Logger
// and Greeting string, as nows new writes them in deps.go.
func (d *BlueprintData) setDeps(param string, deps *discover.Deps) {
	d.Log, d.NewBP = "slog", d.Var
	if param == "" || param == "_" {
		return
	}
	d.Deps, d.Param = true, param
	var lit []string
	if deps.Has("Logger", "*slog.Logger") {
		d.Log = "h.deps.Logger"
		d.TestSlog = true
		lit = append(lit, "Logger: slog.Default()")
	}
	if deps.Has("Greeting", "string") {
		d.Greeting, d.Greet = true, testGreeting
		lit = append(lit, "Greeting: "+strconv.Quote(testGreeting))
	}
	d.NewBP = d.Var + "(&Deps{" + strings.Join(lit, ", ") + "})"
}

// BlueprintOptions are the options of nows blueprint add.
type BlueprintOptions struct {
	Name    string // chat
	Prefix  string // defaults to /NAME
	Route   string // defaults to "" (the prefix itself)
	Handler string // defaults to the variable's name + Handler
	Types   []string
	// Events makes the handler one with typed events, as nows handler add
	// --events does; its events are named NAME.echo and NAME.note.
	Events bool
	scaffold.Options
}

// AddBlueprint writes blueprints/NAME_bp.go and its test, then rebuilds the
// registry.
func AddBlueprint(u *ui.UI, templates fs.FS, p *project.Project, opt BlueprintOptions) error {
	if err := checkBlueprintName(opt.Name); err != nil {
		return err
	}
	file := opt.Name + "_bp.go"
	testFile := opt.Name + "_bp_test.go"
	d := BlueprintData{
		Name: opt.Name, Var: camel(opt.Name, ""), Prefix: opt.Prefix, Route: opt.Route,
		Handler: opt.Handler, Events: opt.Events, EventPrefix: opt.Name,
	}
	if d.Prefix == "" {
		d.Prefix = "/" + opt.Name
	}
	if d.Handler == "" {
		d.Handler = d.Var + "Handler"
	}
	d.TestName = "Test" + d.Var
	if err := checkIdent("handler", d.Handler); err != nil {
		return fmt.Errorf("%w (--handler)", err)
	}
	if !strings.HasPrefix(d.Prefix, "/") {
		return fmt.Errorf("prefix %q must start with \"/\": try --prefix /%s", d.Prefix, strings.TrimLeft(d.Prefix, "/"))
	}
	if err := checkTemplatePart("route", d.Route); err != nil {
		return err
	}
	pkg, err := registry.PackageName(p.Blueprints)
	if err != nil {
		return err
	}
	d.Package = pkg

	_, err = os.Stat(filepath.Join(p.Blueprints, file))
	exists := err == nil
	if exists && !opt.Force && !opt.DryRun {
		return fmt.Errorf("blueprint %s already exists (blueprints/%s): pass --force to overwrite it, or add a route to it with nows handler add %s NAME --route /TEMPLATE",
			opt.Name, file, opt.Name)
	}
	if exists && opt.DryRun {
		opt.Force = true // show the difference
	}
	// Names already taken, except by the file being replaced.
	names, err := declared(p.Blueprints, false, file)
	if err != nil {
		return err
	}
	taken := []string{d.Var, d.Handler}
	if d.Events {
		taken = append(taken, d.Handler+"Text")
	}
	for _, id := range taken {
		if at, ok := names[id]; ok {
			return fmt.Errorf("%s is already declared in blueprints/%s: choose another blueprint name (or --handler)", id, at)
		}
	}
	if err := checkNewRoute(p, d.Prefix, d.Route, file, opt.Types); err != nil {
		return err
	}
	d.Full = pattern.Join(d.Prefix, d.Route)
	d.Path, err = samplePath(d.Full, opt.Types)
	if err != nil {
		return err
	}

	pkgFiles, err := discover.ReadPackage(p.Blueprints)
	if err != nil {
		return err
	}
	scanned, err := discover.Scan(registry.Dir, pkgFiles)
	if err != nil {
		return err
	}
	d.setDeps("d", scanned.Deps)

	src, err := scaffold.RenderFile(templates, "blueprint/bp.go.tmpl", d, false)
	if err != nil {
		return err
	}
	test, err := scaffold.RenderFile(templates, "blueprint/bp_test.go.tmpl", d, false)
	if err != nil {
		return err
	}
	files := []scaffold.File{{Path: file, Data: src}, {Path: testFile, Data: test}}
	reg, err := planRegistry(p, files, nil)
	if err != nil {
		return err
	}
	opt.Options.Show = "blueprints/"
	if err := scaffold.Apply(u, p.Blueprints, files, opt.Options); err != nil {
		return err
	}
	if err := applyRegistry(u, p, reg, opt.DryRun); err != nil {
		return err
	}
	if !opt.DryRun {
		u.Success("Blueprint %s serves %s with %s", d.Var, d.Full, d.Handler)
		u.Hint("Add routes with: nows handler add %s NAME --route /TEMPLATE", opt.Name)
	}
	return nil
}

// RemoveBlueprint deletes a blueprint's file and its test, then rebuilds the
// registry.
func RemoveBlueprint(u *ui.UI, p *project.Project, name string, opt scaffold.Options) error {
	file, err := findBlueprintFile(p, name)
	if err != nil {
		return err
	}
	test := strings.TrimSuffix(file, ".go") + "_test.go"
	reg, err := planRegistry(p, nil, []string{file})
	if err != nil {
		return err
	}
	opt.Show = "blueprints/"
	if err := scaffold.Remove(u, p.Blueprints, []string{file, test}, opt); err != nil {
		return err
	}
	return applyRegistry(u, p, reg, opt.DryRun)
}

// findBlueprintFile returns the file of the blueprint called name: NAME_bp.go,
// NAMEBp.go, or the file declaring the blueprint variable NAME.
func findBlueprintFile(p *project.Project, name string) (string, error) {
	for _, f := range []string{name + "_bp.go", name + "Bp.go", camel(name, "") + "Bp.go"} {
		if discover.IsBlueprintFile(f) {
			if _, err := os.Stat(filepath.Join(p.Blueprints, f)); err == nil {
				return f, nil
			}
		}
	}
	files, err := discover.ReadPackage(p.Blueprints)
	if err != nil {
		return "", err
	}
	var known []string
	for _, f := range files {
		if !discover.IsBlueprintFile(f.Name) {
			continue
		}
		pf, err := discover.Parse(f)
		if err != nil {
			return "", err
		}
		for _, bp := range pf.Blueprints {
			if bp.Var == name || bp.Var == camel(name, "") {
				return f.Name, nil
			}
		}
		known = append(known, strings.TrimSuffix(strings.TrimSuffix(f.Name, ".go"), "_bp"))
	}
	if len(known) == 0 {
		return "", fmt.Errorf("no blueprint %q: blueprints/ has no blueprint files; create one with nows blueprint add %s", name, name)
	}
	return "", fmt.Errorf("no blueprint %q in blueprints/ (there are: %s); create it with nows blueprint add %s", name, strings.Join(known, ", "), name)
}

// checkTemplatePart checks a --prefix or --route value before it is joined.
func checkTemplatePart(flag, t string) error {
	if t != "" && !strings.HasPrefix(t, "/") {
		return fmt.Errorf("%s %q must start with \"/\": try --%s /%s", flag, t, flag, t)
	}
	return nil
}

// checkNewRoute checks that prefix+route parses and conflicts with no route
// of the project (the routes of exclude, being replaced, aside).
func checkNewRoute(p *project.Project, prefix, route, exclude string, types []string) error {
	full := pattern.Join(prefix, route)
	pat, err := pattern.Parse(full, customTypes(types)...)
	if err != nil {
		return fmt.Errorf("%w\n(templates look like /room/{room_id:str}; the types are str, int, float, uuid and path; declare custom types with --param-type)", err)
	}
	files, err := discover.ReadPackage(p.Blueprints)
	if err != nil {
		return err
	}
	files = slices.DeleteFunc(files, func(f discover.File) bool { return f.Name == exclude })
	table, err := routes.FromFiles(files, "blueprints", types)
	if err != nil {
		return err
	}
	for _, r := range table.Routes {
		if r.Status == routes.OK && pat.Conflicts(r.Pattern()) {
			return fmt.Errorf("route %s conflicts with %s (%s, handler %s): both match the same paths, so the server would skip the new blueprint; choose another --prefix or --route",
				full, r.Template, r.Source(), r.Handler)
		}
	}
	return nil
}

func customTypes(types []string) []pattern.Type {
	custom := make([]pattern.Type, len(types))
	for i, t := range types {
		custom[i] = pattern.Type{Name: t, Parse: func(s string) (any, error) { return s, nil }}
	}
	return custom
}

// samplePath returns a path that the template matches, for generated tests.
func samplePath(template string, types []string) (string, error) {
	pat, err := pattern.Parse(template, customTypes(types)...)
	if err != nil {
		return "", err
	}
	params := pat.Params()
	segs := strings.Split(template, "/")
	i := 0
	for n, s := range segs {
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || i >= len(params) {
			continue
		}
		switch params[i].Type {
		case "int":
			segs[n] = "42"
		case "float":
			segs[n] = "1.5"
		case "uuid":
			segs[n] = "123e4567-e89b-12d3-a456-426614174000"
		case "path":
			segs[n] = "a/b"
		default:
			segs[n] = "test"
		}
		i++
	}
	path := strings.Join(segs, "/")
	if _, ok := pat.Match(path); !ok {
		return "", fmt.Errorf("cannot make a path that %s matches for the test (got %s)", template, path)
	}
	return path, nil
}

// planRegistry returns the registry the blueprints package will need once
// files are written and removed deleted, computed before anything is
// written: a package the registry cannot list (a blueprint in a file not
// named *_bp.go, a constructor with the wrong signature, no type Deps)
// stops the command first.
func planRegistry(p *project.Project, files []scaffold.File, removed []string) (scaffold.File, error) {
	pkgFiles, err := discover.ReadPackage(p.Blueprints)
	if err != nil {
		return scaffold.File{}, err
	}
	pkgFiles = slices.DeleteFunc(pkgFiles, func(f discover.File) bool { return slices.Contains(removed, f.Name) })
	for _, f := range files {
		if !discover.IsPackageFile(f.Path) {
			continue
		}
		i := slices.IndexFunc(pkgFiles, func(b discover.File) bool { return b.Name == f.Path })
		if i >= 0 {
			pkgFiles[i].Src = f.Data
		} else {
			pkgFiles = append(pkgFiles, discover.File{Name: f.Path, Src: f.Data})
		}
	}
	slices.SortFunc(pkgFiles, func(a, b discover.File) int { return strings.Compare(a.Name, b.Name) })
	pkg, err := registry.PackageName(p.Blueprints)
	if err != nil {
		return scaffold.File{}, err
	}
	want, err := registry.Generate(pkg, pkgFiles)
	if err != nil {
		return scaffold.File{}, fmt.Errorf("%w\n(nows rebuilds blueprints/%s after every change, so nothing was written)", err, registry.FileName)
	}
	return scaffold.File{Path: registry.FileName, Data: want}, nil
}

// applyRegistry writes the registry planned by planRegistry, or with
// dryRun shows how it would change.
func applyRegistry(u *ui.UI, p *project.Project, reg scaffold.File, dryRun bool) error {
	return scaffold.Apply(u, p.Blueprints, []scaffold.File{reg},
		scaffold.Options{DryRun: dryRun, Update: true, Show: "blueprints/"})
}
