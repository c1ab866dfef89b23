package app

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/generate"
)

func newCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:      "new",
		Usage:     "create a project: server, echo blueprint, test, browser test page",
		ArgsUsage: "DIR",
		Description: `new creates DIR with a ready-to-run nows project: go.mod, main.go (flags,
logging, graceful shutdown), blueprints/ with deps.go (type Deps, what every
handler shares, which main.go fills from its flags; yours to edit), an echo
blueprint, its test and the generated registry, static/index.html (a test
page served at /), README.md, Makefile and .gitignore. Then it runs go mod
tidy.

The project is written to a temporary directory next to DIR and renamed into
place at the end, so an error leaves nothing behind. A non-empty DIR is
refused unless --force is given; over an existing project, the registry then
lists the blueprint files already in DIR/blueprints too.

With --broker nats or --broker redis, main.go also gets a --broker URL flag
(env NOWS_BROKER) that shares rooms and broadcasts with the other nodes
through that broker; empty, the server runs alone with the in-process hub.
Only the chosen adapter is imported, and the README says how to start the
broker and run two nodes.

Until nows is published, go.mod replaces github.com/nowebsocket/nows with a
local checkout: the one this nows binary was built from, or --dev PATH.

Examples:

   nows new myapp
   nows new myapp --module example.com/myapp
   nows new myapp --broker nats        # rooms across nodes through NATS (or redis)
   nows new myapp --dev ~/src/nows     # use this checkout of nows
   nows new . --force                  # write into the current directory`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "module", Aliases: []string{"m"}, Usage: "module `path` (default: the directory's name)"},
			&cli.StringFlag{Name: "dev", Usage: "use the nows checkout at `PATH` (a replace directive in go.mod)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "write into a non-empty directory, overwriting files with other content"},
			&cli.BoolFlag{Name: "no-tidy", Usage: "do not run go mod tidy"},
			&cli.StringFlag{Name: "broker", Usage: "wire a broker into main.go for several nodes: `NAME` is " + brokerNames() + " (default: none, the in-process hub alone)"},
		},
		Action: func(c *cli.Context) error {
			a, err := args(c, "DIR")
			if err != nil {
				return err
			}
			if _, err := generate.LookupBroker(c.String("broker")); err != nil {
				return usageErrorf("%v", err)
			}
			return generate.New(c.Context, uiFor(c, env), env.Templates, generate.NewOptions{
				Dir: a[0], Module: c.String("module"), Dev: c.String("dev"),
				Force: c.Bool("force"), NoTidy: c.Bool("no-tidy"), Broker: c.String("broker"),
			})
		},
	}
}

// brokerNames lists the values of nows new --broker: "nats or redis".
func brokerNames() string {
	names := make([]string, len(generate.Brokers))
	for i, b := range generate.Brokers {
		names[i] = b.Name
	}
	return strings.Join(names, " or ")
}
