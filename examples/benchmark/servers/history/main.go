// Command history is the server of the benchmark's recovery scenario: an
// events route at /events whose clients may join the room "bench", which
// has history in Redis (framework/history/redishistory), a window of
// --window messages. cmd/benchrun kills it, publishes while it is down and
// starts it again; its clients (cmd/recovery) recover what they missed.
//
//	go run ./servers/history --addr 127.0.0.1:8766 --redis redis://127.0.0.1:6379
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/nowebsocket/nows/examples/benchmark/internal/recres"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// Member is a client of the events route.
type Member struct{}

// OnJoin lets a client join the benchmark's room, and no other.
func (*Member) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if room != recres.Room {
		return fmt.Errorf("no room %q here, only %q", room, recres.Room)
	}
	return nil
}

func main() {
	var opts framework.Options
	opts.BindFlags(flag.CommandLine)
	redisURL := flag.String("redis", "", "redis://HOST:PORT of the history store (required)")
	window := flag.Int("window", 1000, "messages the room's history keeps")
	flag.DurationVar(&opts.Hub.PublishTimeout, "publish-timeout", 0, "the hub's PublishTimeout, which also bounds each history read of a join (0: the framework's default, 2s)")
	flag.Parse()
	if err := run(opts, *redisURL, *window); err != nil {
		fmt.Fprintln(os.Stderr, "history:", err)
		os.Exit(1)
	}
}

func run(opts framework.Options, redisURL string, window int) error {
	ro, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("--redis %q: %w (want redis://HOST:PORT)", redisURL, err)
	}
	rdb := redis.NewClient(ro)
	defer rdb.Close()
	opts.Hub.History = recres.History(rdb, window)
	srv := framework.NewServer(opts)
	return framework.Run(context.Background(), srv, framework.NewBlueprint("", events.Route[Member]("/events")))
}
