// Command nows creates, inspects and runs nows WebSocket projects.
//
//	nows new myapp
//	cd myapp
//	nows blueprint add chat --prefix /chat
//	nows run
//
// See docs/cli.md, or nows --help.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/nowebsocket/nows/cli/internal/app"
	"github.com/nowebsocket/nows/templates"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run runs nows with args (args[0] is the program) and returns the exit
// code: 0, 1 for errors, 2 for usage errors, the app's status for nows run.
func run(args []string, stdout, stderr io.Writer) int {
	a := app.New(app.Env{Stdout: stdout, Stderr: stderr, Templates: templates.FS})
	err := app.Run(context.Background(), a, args)
	if err != nil {
		fmt.Fprintf(stderr, "nows: %v\n", err)
	}
	return app.ExitCode(err)
}
