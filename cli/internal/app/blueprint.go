package app

import (
	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/generate"
	"github.com/nowebsocket/nows/cli/internal/scaffold"
)

// Flags hold parse state, so each command gets its own.
func dryRunFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "show what would change (diffs included), write nothing"}
}

func paramTypeFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "param-type", Usage: "a custom parameter `TYPE` the app registers (Options.ParamTypes); repeatable"}
}

func blueprintCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "blueprint",
		Usage: "add or remove a blueprint (blueprints/NAME_bp.go)",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "write a blueprint with an echoing handler stub and its test",
				ArgsUsage: "NAME",
				Description: `add writes blueprints/NAME_bp.go and blueprints/NAME_bp_test.go, then rebuilds
the registry. The file holds the blueprint constructor,

   func Chat(d *Deps) *framework.Blueprint      (CamelCase NAME)

which the registry calls with the app's Deps (blueprints/deps.go), and a
handler stub with every hook that gets the Deps through framework.RouteFunc:
it logs with d.Logger, sends d.Greeting (the app's --greeting) first, then
echoes, so the endpoint works at once. With --events the handler has typed
events instead, as nows handler add --events writes it, named NAME.echo and
NAME.note.

The route is the prefix itself unless --route is given. The new route must
not conflict with the routes already in the project.

Examples:

   nows blueprint add chat --prefix /chat
   nows blueprint add rooms --prefix /rooms --route "/{room_id:str}" --handler Room
   nows blueprint add chat --events       # typed events: chat.echo, chat.note
   nows blueprint add chat --dry-run      # show the files, write nothing
   nows blueprint add chat --force        # overwrite an existing chat_bp.go`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "prefix", Aliases: []string{"p"}, Usage: "the blueprint's path `prefix` (default: /NAME)"},
					&cli.StringFlag{Name: "route", Aliases: []string{"r"}, Usage: "the route's `TEMPLATE`, relative to the prefix (default: the prefix itself)"},
					&cli.StringFlag{Name: "handler", Usage: "the handler type's `name` (default: CamelCase NAME + Handler)"},
					&cli.BoolFlag{Name: "events", Aliases: []string{"e"}, Usage: "a handler with typed events (the request NAME.echo and the event NAME.note, framework/events) instead of an echo"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite existing files"},
					dryRunFlag(), paramTypeFlag(),
				},
				Action: func(c *cli.Context) error {
					a, err := args(c, "NAME")
					if err != nil {
						return err
					}
					p, err := findProject(env)
					if err != nil {
						return err
					}
					return generate.AddBlueprint(uiFor(c, env), env.Templates, p, generate.BlueprintOptions{
						Name: a[0], Prefix: c.String("prefix"), Route: c.String("route"), Handler: c.String("handler"),
						Types: c.StringSlice("param-type"), Events: c.Bool("events"),
						Options: scaffold.Options{Force: c.Bool("force"), DryRun: c.Bool("dry-run")},
					})
				},
			},
			{
				Name:      "remove",
				Aliases:   []string{"rm"},
				Usage:     "delete a blueprint's file and its test",
				ArgsUsage: "NAME",
				Description: `remove deletes blueprints/NAME_bp.go (or NAMEBp.go) and its _test.go file,
then rebuilds the registry. NAME may also be the blueprint variable.

Examples:

   nows blueprint remove chat
   nows blueprint remove chat --dry-run`,
				Flags: []cli.Flag{dryRunFlag()},
				Action: func(c *cli.Context) error {
					a, err := args(c, "NAME")
					if err != nil {
						return err
					}
					p, err := findProject(env)
					if err != nil {
						return err
					}
					return generate.RemoveBlueprint(uiFor(c, env), p, a[0], scaffold.Options{DryRun: c.Bool("dry-run")})
				},
			},
		},
	}
}

func handlerCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "handler",
		Usage: "add a handler and its route to a blueprint",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "add an echoing handler stub, its route and its test to a blueprint",
			ArgsUsage: "BLUEPRINT NAME",
			Description: `add appends the handler type NAME (with every hook; it echoes) to the
blueprint's file, adds its route to the blueprint's NewBlueprint call, adds a
test to its _test.go file and rebuilds the registry. The rest of the file is
left as it is.

In a blueprint constructor, func X(d *Deps) *framework.Blueprint, the route is
framework.RouteFunc(TEMPLATE, func() *NAME { return &NAME{deps: d} }) and the
handler gets a deps *Deps field; in a blueprint variable,
var X = framework.NewBlueprint(...), it is framework.Route[NAME](TEMPLATE).

With --events the handler has typed events instead of OnMessage and
OnBinary (package framework/events, the nows.v1 protocol that nows.js and
framework/client speak): the request name.echo, answered by its method
Echo, and the event name.note, handled by Note, both with the payload type
NAMEText, which has a Validate method; the route is events.RouteFunc (or
events.Route) with events.Handle and events.On, and the test talks nows.v1.

Examples:

   nows handler add chat Room --route "/room/{room_id:str}"
   nows handler add chat Lobby                 # route /lobby
   nows handler add chat Room --route "/room/{id:int}" --dry-run
   nows handler add chat Room --events         # requests room.echo, event room.note`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "route", Aliases: []string{"r"}, Usage: "the route's `TEMPLATE`, relative to the blueprint's prefix (default: /name)"},
				&cli.BoolFlag{Name: "events", Aliases: []string{"e"}, Usage: "a handler with typed events (a request and an event, framework/events) instead of an echo"},
				dryRunFlag(), paramTypeFlag(),
			},
			Action: func(c *cli.Context) error {
				a, err := args(c, "BLUEPRINT", "NAME")
				if err != nil {
					return err
				}
				p, err := findProject(env)
				if err != nil {
					return err
				}
				return generate.AddHandler(uiFor(c, env), env.Templates, p, generate.HandlerOptions{
					Blueprint: a[0], Name: a[1], Route: c.String("route"), Types: c.StringSlice("param-type"),
					Events:  c.Bool("events"),
					Options: scaffold.Options{DryRun: c.Bool("dry-run")},
				})
			},
		}},
	}
}
