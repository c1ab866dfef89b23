// Command nows is the nows fan-out server of the benchmark (its echo server
// is examples/echo): /fanout joins the room "bench" with Conn.Join, and
// every message sent on /fanout/pub goes to the room with Hub.Broadcast,
// through each member's send queue, with the default Options.
//
//	go run ./servers/nows --addr 127.0.0.1:8766
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/nowebsocket/nows/framework"
)

const room = "bench"

// Member joins the room and says nothing.
type Member struct{}

// OnOpen joins the room.
func (*Member) OnOpen(ctx context.Context, c *framework.Conn) error { return c.Join(room) }

// OnBinary ignores what a member sends.
func (*Member) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error { return nil }

// Publisher broadcasts every message it receives to the room.
type Publisher struct{}

// OnBinary broadcasts data (framework.Binary copies it).
func (*Publisher) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return c.Hub().Broadcast(ctx, room, framework.Binary(data))
}

func main() {
	var opts framework.Options
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	bp := framework.NewBlueprint("/fanout",
		framework.Route[Member](""),
		framework.Route[Publisher]("/pub"),
	)
	if err := framework.Run(context.Background(), framework.NewServer(opts), bp); err != nil {
		fmt.Fprintln(os.Stderr, "nows:", err)
		os.Exit(1)
	}
}
