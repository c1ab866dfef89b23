package app

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/runner"
)

func runCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "build and run the app; --watch restarts it on changes",
		ArgsUsage: "[-- APP FLAGS...]",
		Description: `run rebuilds the registry, builds the app and runs it with the flags after
--. SIGINT and SIGTERM are passed on to it; run exits with its status.

With --watch, a change to a .go file, go.mod or static/ rebuilds the app. When
the build succeeds, the running app closes its clients with 1012 (service
restart) and exits, and the new one starts once the port is free; clients can
reconnect at once. When it fails, the error is shown, the old app keeps
running, and run waits for the next change.

Examples:

   nows run
   nows run -- --addr 127.0.0.1:9000 --log-level debug
   nows run --watch`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "rebuild and restart when the sources change"},
		},
		Action: func(c *cli.Context) error {
			p, err := findProject(env)
			if err != nil {
				return err
			}
			err = runner.Run(c.Context, runner.Options{
				Root: p.Root, Blueprints: p.Blueprints, Args: c.Args().Slice(), Watch: c.Bool("watch"),
				UI: uiFor(c, env), Stdin: os.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
			})
			var ee *runner.ExitError
			if errors.As(err, &ee) {
				return &ExitError{Code: ee.Code, Err: err}
			}
			return err
		},
	}
}
