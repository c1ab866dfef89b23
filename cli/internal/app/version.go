package app

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func versionCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of nows",
		Description: `version prints the version of nows, of the framework it scaffolds and of
the Go that built it.

Examples:

   nows version
   nows --version`,
		Action: func(c *cli.Context) error {
			fmt.Fprintf(env.Stdout, "nows %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
