package app

import (
	"errors"
	"os"
	"slices"
	"strings"

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

The app's own flags go after --: nows run --addr X is refused, with the
command to type instead (nows run -- --addr X).

Examples:

   nows run
   nows run -- --addr 127.0.0.1:9000 --log-level debug
   nows run --watch`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "rebuild and restart when the sources change"},
		},
		OnUsageError: runUsageError,
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

// runUsageError explains that the app's flags go after --, with the
// command line to type: nows run --addr :9000 is nows run -- --addr :9000.
func runUsageError(c *cli.Context, err error, _ bool) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return usageErrorf("%v (see %s --help)", err, c.Command.HelpName)
	}
	own, app := splitRunArgs(c, typedArgs(c))
	flag := name
	for _, a := range app {
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && n == strings.TrimLeft(name, "-") {
			flag, _, _ = strings.Cut(a, "=")
			break
		}
	}
	line := append([]string{"nows", "run"}, own...)
	line = append(line, "--")
	for _, a := range app {
		line = append(line, shellQuote(a))
	}
	return usageErrorf("nows run has no flag %s: the app's flags go after --, so type\n\n    %s\n\n(nows run's own flag is --watch; see nows run --help)",
		flag, strings.Join(line, " "))
}

// splitRunArgs splits the arguments typed after "run" into nows run's own
// flags and the app's arguments ("--" dropped).
func splitRunArgs(c *cli.Context, typed []string) (own, app []string) {
	i := slices.Index(typed, c.Command.Name)
	if i < 0 {
		return nil, nil
	}
	for j, a := range typed[i+1:] {
		if a == "--" {
			return own, append(app, typed[i+2+j:]...)
		}
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), n) }) {
			own = append(own, a)
			continue
		}
		app = append(app, a)
	}
	return own, app
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-[]") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
