package app

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/ui"
)

func registryCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "registry",
		Usage: "rebuild blueprints/registry_gen.go",
		Description: `registry writes blueprints/registry_gen.go: func All(d *Deps) []*framework.Blueprint
lists every blueprint of blueprints/*_bp.go and *Bp.go, sorted by file name,
then in declaration order. A blueprint is a package-level variable,

   var Echo = framework.NewBlueprint(...)          listed as it is: Echo

or an exported constructor taking the app's dependencies (type Deps, in
blueprints/deps.go),

   func Chat(d *Deps) *framework.Blueprint         called with d: Chat(d)

The file is only written when it changes. It works from the project or from
inside blueprints/, so blueprints/doc.go runs it with
//go:generate nows registry.

It fails, naming the file, the line and the fix, when a blueprint is declared
in a file not named *_bp.go (it would be left out: rename the file), when a
function of a *_bp.go file returns a *framework.Blueprint with another
signature, and when the package has no type Deps.

nows blueprint add, nows handler add and nows run run it for you.

Examples:

   nows registry
   go generate ./...
   nows registry --check     # in CI: fails when the file is out of date`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "write nothing; fail when the file is out of date"},
		},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			p, err := findProject(env)
			if err != nil {
				return err
			}
			u := uiFor(c, env)
			show := filepath.Join("blueprints", registry.FileName)
			if c.Bool("check") {
				if err := registry.Check(p.Blueprints); errors.Is(err, registry.ErrStale) {
					return fmt.Errorf("%w: run nows registry (or go generate ./...) and commit the result", err)
				} else if err != nil {
					return err
				}
				u.Success("%s is up to date", show)
				return nil
			}
			res, err := registry.Sync(p.Blueprints)
			if err != nil {
				return err
			}
			u.Status(map[registry.Result]ui.Status{registry.Unchanged: ui.Identical, registry.Created: ui.Create, registry.Updated: ui.Update}[res], filepath.ToSlash(show))
			return nil
		},
	}
}
