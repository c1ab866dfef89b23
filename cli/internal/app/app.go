// Package app is the nows command line: the urfave/cli App and one file per
// command. Output goes to the writers given to New; errors are returned,
// and main turns them into exit codes (see ExitCode).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/bench"
	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/top"
	"github.com/nowebsocket/nows/cli/internal/ui"
)

// Env is what the commands need from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Templates      fs.FS  // laid out like the templates module: project/, blueprint/
	Dir            string // the working directory; "" for the process's
}

// New returns the nows App.
func New(env Env) *cli.App {
	a := &cli.App{
		Name:                 "nows",
		Usage:                "create and run nows WebSocket projects",
		Version:              version(),
		Writer:               env.Stdout,
		ErrWriter:            env.Stderr,
		EnableBashCompletion: true,
		Suggest:              true,
		HideVersion:          false,
		// Errors, exit codes included, go back to main.
		ExitErrHandler: func(*cli.Context, error) {},
		Description: `nows scaffolds, inspects and runs WebSocket servers built on the nows framework.

Start a project and run it:

   nows new myapp
   cd myapp
   nows blueprint add chat --prefix /chat
   nows run

Every command has --help with examples. Docs: docs/cli.md in the nows repository.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-color", Usage: "print without colour (also when NO_COLOR is set, or the output is not a terminal)"},
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageErrorf("%v (see %s --help)", err, c.Command.HelpName)
		},
	}
	a.Commands = []*cli.Command{
		newCommand(env),
		blueprintCommand(env),
		handlerCommand(env),
		registryCommand(env),
		routesCommand(env),
		runCommand(env),
		bench.Command(),
		top.Command(),
		versionCommand(env),
		completionCommand(a),
	}
	for _, c := range a.Commands {
		setUsageErrors(c)
	}
	return a
}

func setUsageErrors(c *cli.Command) {
	if c.OnUsageError == nil {
		c.OnUsageError = func(cc *cli.Context, err error, _ bool) error {
			return usageErrorf("%v (see %s --help)", err, cc.Command.HelpName)
		}
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s)
	}
}

// Run runs the app with the process arguments (args[0] is the program),
// accepting flags after positional arguments (nows blueprint add chat
// --prefix /chat).
func Run(ctx context.Context, a *cli.App, args []string) error {
	if a.Metadata == nil {
		a.Metadata = map[string]any{}
	}
	a.Metadata[argsKey] = slices.Clone(args) // as typed, for error messages
	return a.RunContext(ctx, Interspersed(a, args))
}

// argsKey is the App.Metadata key of the arguments as typed.
const argsKey = "args"

// typedArgs returns the arguments given to Run, as typed.
func typedArgs(c *cli.Context) []string {
	args, _ := c.App.Metadata[argsKey].([]string)
	return args
}

// UsageError is a mistake on the command line: main exits with 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries the exit code of a program nows ran (nows run).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit code for the error a command returned: 0 for
// nil, 2 for usage errors, the program's code for an ExitError, 1 else.
func ExitCode(err error) int {
	var ue *UsageError
	var ee *ExitError
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return 1
}

// uiFor returns the UI of a command.
func uiFor(c *cli.Context, env Env) *ui.UI {
	return ui.New(env.Stdout, env.Stderr, c.Bool("no-color"))
}

// workDir returns the directory commands work in.
func workDir(env Env) (string, error) {
	if env.Dir != "" {
		return env.Dir, nil
	}
	return os.Getwd()
}

// findProject finds the project around the working directory.
func findProject(env Env) (*project.Project, error) {
	dir, err := workDir(env)
	if err != nil {
		return nil, err
	}
	p, err := project.Find(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: run this in a project made by nows new, or create one with nows new NAME", err)
	}
	return p, nil
}

// args checks the number of positional arguments.
func args(c *cli.Context, names ...string) ([]string, error) {
	got := c.Args().Slice()
	if len(got) != len(names) {
		want := ""
		for _, n := range names {
			want += " " + n
		}
		if len(got) < len(names) {
			return nil, usageErrorf("%s: missing %s (usage: %s%s)", c.Command.HelpName, names[len(got)], c.Command.HelpName, want)
		}
		return nil, usageErrorf("%s: too many arguments %q (usage: %s%s)", c.Command.HelpName, got[len(names):], c.Command.HelpName, want)
	}
	return got, nil
}
