package bench

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Command returns the `bench` command.
func Command() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "load-test a WebSocket endpoint: echo throughput and latency, idle connections, handshakes/s",
		ArgsUsage: "URL",
		Description: `Echo mode (the default) sends messages over --conns connections and checks
that each echo equals what was sent; it reports messages/s, p50/p99/p999
latency and errors. --idle N opens N connections and holds them; --handshakes N
opens and closes N connections, --conns at a time. The last line of the output
is a plain summary for scripts; --json prints one JSON object instead.

Examples:
   nows bench ws://127.0.0.1:8765/echo
   nows bench --conns 100 --size 16384 --duration 30s ws://127.0.0.1:8765/echo
   nows bench --conns 10 --pipeline 8 --messages 100000 --binary ws://127.0.0.1:8765/echo
   nows bench --idle 10000 --hold 30s ws://127.0.0.1:8765/echo
   nows bench --handshakes 5000 --conns 50 --json ws://127.0.0.1:8765/echo`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "conns", Value: DefaultConns, Usage: "echo connections (concurrency with --handshakes)"},
			&cli.DurationFlag{Name: "duration", Value: DefaultDuration, Usage: "how long echo traffic runs"},
			&cli.Int64Flag{Name: "messages", Usage: "send this many messages in total instead of running for --duration"},
			&cli.IntFlag{Name: "size", Value: DefaultSize, Usage: "payload size in bytes"},
			&cli.BoolFlag{Name: "binary", Usage: "send binary messages instead of text"},
			&cli.IntFlag{Name: "pipeline", Value: DefaultPipeline, Usage: "messages in flight per connection"},
			&cli.IntFlag{Name: "idle", Usage: "open and hold `N` idle connections"},
			&cli.DurationFlag{Name: "hold", Value: DefaultHold, Usage: "how long to hold --idle connections"},
			&cli.IntFlag{Name: "handshakes", Usage: "open and close `N` connections and report handshakes/s"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
			&cli.BoolFlag{Name: "no-color", Usage: "print the summary without colour"},
		},
		Action: action,
	}
}

func action(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("bench: want exactly one URL argument, got %d", c.NArg())
	}
	if c.IsSet("duration") && c.IsSet("messages") {
		return fmt.Errorf("bench: choose one of --duration and --messages")
	}
	for _, name := range []string{"conns", "size", "pipeline", "idle", "handshakes"} {
		if c.Int(name) < 0 {
			return fmt.Errorf("bench: --%s must not be negative", name)
		}
	}
	if c.Int64("messages") < 0 {
		return fmt.Errorf("bench: --messages must not be negative")
	}
	cfg := Config{
		URL:        c.Args().First(),
		Conns:      c.Int("conns"),
		Duration:   c.Duration("duration"),
		Messages:   c.Int64("messages"),
		Size:       c.Int("size"),
		Binary:     c.Bool("binary"),
		Pipeline:   c.Int("pipeline"),
		Idle:       c.Int("idle"),
		Hold:       c.Duration("hold"),
		Handshakes: c.Int("handshakes"),
		JSON:       c.Bool("json"),
		NoColor:    c.Bool("no-color"),
	}
	_, err := Run(c.Context, cfg, c.App.Writer, c.App.ErrWriter)
	return err
}
