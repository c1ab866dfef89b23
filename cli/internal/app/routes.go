package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/routes"
	"github.com/nowebsocket/nows/cli/internal/runner"
	"github.com/nowebsocket/nows/cli/internal/ui"
)

// askTimeout bounds how long nows routes waits for the app to print its
// routes.
var askTimeout = 30 * time.Second

func routesCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "routes",
		Usage: "print the route table the app registers, conflicts flagged",
		Description: `routes builds the app and asks it for its routes: it runs it with --routes,
which framework.Options.BindFlags defines and with which framework.Run prints
the registered routes and exits instead of listening. So the table has every
route of the app, those registered by hand in main.go or built from its
configuration too: the full template (prefix included), parameters, handler,
blueprint and where it is declared, from the most to the least specific (the
order in which the server tries them). The blueprint column comes from the
blueprint files, and is empty for a route declared elsewhere. A stale
blueprints/registry_gen.go is not rewritten: the app is built with the one
nows registry would write, as nows run builds it.

When the app refuses to start (two routes that match the same paths, which
the framework names both; a hook with a wrong signature; an invalid
template), routes prints its error, then the routes of the blueprint files
with the conflicts flagged, and exits with 1.

--static reads the blueprint files without building the app: quicker, but
routes registered elsewhere are missing, and a template that is not a
constant is "cannot analyse statically". routes falls back to it, with a
note saying why, when the app does not build (the compiler's errors come
first; exit 1) and when its main does not know --routes (main.go should bind
its flags with framework.Options.BindFlags and serve with framework.Run).

--match PATH shows which route a request for PATH reaches, and its decoded
parameters. A parameter of a type the app adds (Options.ParamTypes) matches
any non-empty segment here: nows does not run the app's parser.

Examples:

   nows routes
   nows routes --json | jq '.routes[].template'
   nows routes --match /chat/room/42
   nows routes --static              # without building the app
   nows routes --param-type slug     # the app registers a custom type "slug"`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "match", Usage: "show which route a request `PATH` reaches"},
			&cli.BoolFlag{Name: "static", Usage: "read the blueprint files without building the app (routes registered elsewhere are missing)"},
			paramTypeFlag(),
		},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			p, err := findProject(env)
			if err != nil {
				return err
			}
			types := c.StringSlice("param-type")
			static, err := routes.Analyze(p.Blueprints, "blueprints", types)
			if err != nil {
				return err
			}
			u := uiFor(c, env)
			t, failed := static, error(nil)
			if c.Bool("static") {
				u.Note("--static: the routes of the blueprint files, read without building the app (routes registered in main.go or built at run time are missing)")
			} else if t, failed = appTable(c.Context, p, static, types, u); t == nil {
				return failed
			}
			if c.IsSet("match") {
				err := printMatch(env.Stdout, t, c.String("match"), c.Bool("json"))
				if failed != nil {
					return errors.Join(failed, err)
				}
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(env.Stdout, struct {
					Routes   []*routes.Route `json:"routes"`
					Problems int             `json:"problems"`
					From     string          `json:"from"`
				}{orEmpty(t.Routes), t.Problems(), from(t)}); err != nil {
					return err
				}
			} else {
				printTable(env.Stdout, t)
			}
			if failed != nil {
				return failed
			}
			if n := t.Problems(); n > 0 {
				return fmt.Errorf("%d %s the app from starting (see above)", n, plural(n, "route stops", "routes stop"))
			}
			return nil
		},
	}
}

// from says where the routes of t come from, for --json.
func from(t *routes.Table) string {
	if t.FromApp {
		return "app"
	}
	return "static"
}

// appTable builds the app, runs it with --routes and returns the table of
// its routes. When it cannot, it says why in a note and returns static,
// with an error when the app would not start either (the error names what
// was printed above it); a nil table is an error of nows itself.
func appTable(ctx context.Context, p *project.Project, static *routes.Table, types []string, u *ui.UI) (*routes.Table, error) {
	tmp, err := os.MkdirTemp("", "nows-routes-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	reg, stale, err := registry.Want(p.Blueprints)
	if err != nil {
		return nil, err
	}
	var replace map[string][]byte
	if stale {
		replace = map[string][]byte{filepath.Join(p.Blueprints, registry.FileName): reg}
		u.Note("blueprints/%s is out of date: the app is built with the one nows registry would write (run nows registry to update the file)", registry.FileName)
	}
	bin := filepath.Join(tmp, "app"+runner.ExeSuffix())
	err = runner.Build(ctx, p.Root, bin, replace)
	var be *runner.BuildError
	if errors.As(err, &be) {
		fmt.Fprintln(u.Err(), be.Output)
		u.Note("the app does not build (go build's errors above): these are the routes of the blueprint files, read without building it")
		return static, errors.New("go build failed: fix the errors above")
	} else if err != nil {
		return nil, err
	}
	rs, err := routes.Ask(ctx, bin, p.Root, askTimeout)
	var ae *routes.AppError
	var te *routes.TimeoutError
	switch {
	case errors.Is(err, routes.ErrNoRoutesFlag):
		u.Note("the app does not know --routes (\"flag provided but not defined: -routes\"): main.go should bind its flags with framework.Options.BindFlags and serve with framework.Run, as nows new writes it; these are the routes of the blueprint files")
		return static, nil
	case errors.As(err, &ae):
		if ae.Stderr != "" {
			fmt.Fprintln(u.Err(), ae.Stderr)
		}
		flagged := ""
		if static.Problems() > 0 {
			flagged = ", conflicts flagged"
		}
		u.Note("the app stops at start-up with the error above: these are the routes of the blueprint files%s", flagged)
		return static, fmt.Errorf("the app exited with %s at start-up: fix the error above", ae.Status)
	case errors.As(err, &te):
		u.Note("%v: these are the routes of the blueprint files", err)
		return static, fmt.Errorf("%v: does its main wait for something before framework.Run?", err)
	case err != nil:
		return nil, err
	}
	return routes.FromApp(rs, p.Root, static, types)
}

func printTable(w io.Writer, t *routes.Table) {
	if len(t.Routes) == 0 {
		if t.FromApp {
			fmt.Fprintln(w, "The app registers no route: add a blueprint with nows blueprint add NAME.")
		} else {
			fmt.Fprintln(w, "No routes in the blueprint files: add a blueprint with nows blueprint add NAME.")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tPARAMS\tHANDLER\tBLUEPRINT\tSOURCE")
	var problems []*routes.Route
	for _, r := range t.Routes {
		tmpl := r.Template
		if r.Status != routes.OK {
			problems = append(problems, r)
			if tmpl == "" {
				tmpl = "?"
			}
			tmpl = strings.ToUpper(string(r.Status)) + " " + tmpl
		}
		var ps []string
		for _, p := range r.Params {
			ps = append(ps, p.Name+":"+p.Type)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tmpl, strings.Join(ps, " "), r.Handler, r.Blueprint, r.Source())
	}
	tw.Flush()
	if t.FromApp {
		fmt.Fprintf(w, "\n%d %s, as the app registers them.\n", len(t.Routes), plural(len(t.Routes), "route", "routes"))
	} else {
		fmt.Fprintf(w, "\n%d %s in %d %s, read from the blueprint files.\n", len(t.Routes), plural(len(t.Routes), "route", "routes"),
			t.Blueprints, plural(t.Blueprints, "blueprint", "blueprints"))
	}
	for _, r := range problems {
		what := string(r.Status)
		if r.Template != "" {
			what += " " + r.Template
		}
		fmt.Fprintf(w, "%s: %s: %s\n", r.Source(), what, r.Problem)
	}
}

type matchParam struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

func printMatch(w io.Writer, t *routes.Table, path string, asJSON bool) error {
	r, ps, ok := t.Match(path)
	var params []matchParam
	if ok {
		for _, p := range r.Params {
			v, _ := ps.Get(p.Name)
			params = append(params, matchParam{p.Name, p.Type, v})
		}
	}
	if asJSON {
		if err := writeJSON(w, struct {
			Path   string        `json:"path"`
			Route  *routes.Route `json:"route"`
			Params []matchParam  `json:"params"`
		}{path, r, orEmpty(params)}); err != nil {
			return err
		}
	} else if ok {
		bp := ""
		if r.Blueprint != "" {
			bp = ", blueprint " + r.Blueprint
		}
		fmt.Fprintf(w, "%s → %s (handler %s%s, %s)\n", path, r.Template, r.Handler, bp, r.Source())
		for _, p := range params {
			typ := p.Type
			if routes.IsCustomType(typ) {
				typ += ", the app's type: nows does not run its parser"
			}
			fmt.Fprintf(w, "    %s = %s (%s)\n", p.Name, formatValue(p.Value), typ)
		}
	}
	switch {
	case ok:
		return nil
	case t.FromApp:
		return fmt.Errorf("no route matches %s: the server answers 404 (see nows routes)", path)
	default:
		return fmt.Errorf("no route of the blueprint files matches %s: the server answers 404, unless a route registered elsewhere (main.go) matches it", path)
	}
}

func formatValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
