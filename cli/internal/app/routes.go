package app

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/routes"
)

func routesCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "routes",
		Usage: "print the route table, conflicts flagged",
		Description: `routes reads the blueprint files (without building the app) and prints every
route of their blueprint variables and constructors: its full template
(prefix included), parameters, handler, blueprint and where it is declared,
from the most to the least specific (the order in which the server tries
them).

Routes the server would not serve are flagged and make routes exit with 1:
a route that matches exactly the same paths as an earlier one (its whole
blueprint is skipped, as in NoWebsocket), and invalid templates. Templates
that are not constants are reported as "cannot analyse statically".

--match PATH shows which route a request for PATH reaches, and its decoded
parameters.

Examples:

   nows routes
   nows routes --json | jq '.routes[].template'
   nows routes --match /chat/room/42
   nows routes --param-type slug     # the app registers a custom type "slug"`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "match", Usage: "show which route a request `PATH` reaches"},
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
			t, err := routes.Analyze(p.Blueprints, "blueprints", c.StringSlice("param-type"))
			if err != nil {
				return err
			}
			if c.IsSet("match") {
				return printMatch(env.Stdout, t, c.String("match"), c.Bool("json"))
			}
			if c.Bool("json") {
				if err := writeJSON(env.Stdout, struct {
					Routes   []*routes.Route `json:"routes"`
					Problems int             `json:"problems"`
				}{orEmpty(t.Routes), t.Problems()}); err != nil {
					return err
				}
			} else {
				printTable(env.Stdout, t)
			}
			if n := t.Problems(); n > 0 {
				return fmt.Errorf("%d %s the server would not serve (see above)", n, plural(n, "route", "routes"))
			}
			return nil
		},
	}
}

func printTable(w io.Writer, t *routes.Table) {
	if len(t.Routes) == 0 {
		fmt.Fprintln(w, "No routes: add a blueprint with nows blueprint add NAME.")
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
	fmt.Fprintf(w, "\n%d %s in %d %s.\n", len(t.Routes), plural(len(t.Routes), "route", "routes"),
		t.Blueprints, plural(t.Blueprints, "blueprint", "blueprints"))
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
		fmt.Fprintf(w, "%s → %s (handler %s, blueprint %s, %s)\n", path, r.Template, r.Handler, r.Blueprint, r.Source())
		for _, p := range params {
			fmt.Fprintf(w, "    %s = %s (%s)\n", p.Name, formatValue(p.Value), p.Type)
		}
	}
	if !ok {
		return fmt.Errorf("no route matches %s: the server answers 404 (see nows routes)", path)
	}
	return nil
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
