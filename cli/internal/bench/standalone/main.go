// Command standalone is `nows bench` on its own, for the benchmark
// orchestrator (examples/benchmark/cmd/benchrun), which builds it from
// outside this module: `nows-bench [flags] URL` takes the flags of
// `nows bench`. With NOWS_BENCH_PPROF=prefix in the environment it writes
// prefix.cpu and prefix.alloc profiles of the load generator itself.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/urfave/cli/v2"

	"github.com/nowebsocket/nows/cli/internal/bench"
)

func main() {
	cmd := bench.Command()
	app := &cli.App{
		Name:        "nows-bench",
		Usage:       cmd.Usage,
		ArgsUsage:   cmd.ArgsUsage,
		Description: cmd.Description,
		Flags:       cmd.Flags,
		Action:      cmd.Action,
		Writer:      os.Stdout,
		ErrWriter:   os.Stderr,
	}
	stop, err := profile(os.Getenv("NOWS_BENCH_PPROF"))
	if err == nil {
		err = app.Run(os.Args)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// profile starts a CPU profile and returns what writes both profiles.
func profile(prefix string) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	runtime.MemProfileRate = 64 << 10
	f, err := os.Create(prefix + ".cpu")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		if a, err := os.Create(prefix + ".alloc"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(a, 0)
			_ = a.Close()
		}
	}, nil
}
