// Command nows is the nows fan-out server of the benchmark (its echo server
// is examples/echo): /fanout joins the room "bench" with Conn.Join, and
// every message sent on /fanout/pub goes to the room with Hub.Broadcast,
// through each member's send queue, with the default Options. With
// --broker nats://... or redis://... it is one node of a cluster (the room
// spans every node on that broker), as cmd/cluster runs it.
//
//	go run ./servers/nows --addr 127.0.0.1:8766
//	go run ./servers/nows --addr 127.0.0.1:8767 --broker nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/natsbroker"
	"github.com/nowebsocket/nows/framework/broker/redisbroker"
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
	brokerURL := flag.String("broker", "", "nats://HOST:PORT or redis://HOST:PORT: a node of a cluster on that broker")
	flag.Parse()
	b, err := newBroker(*brokerURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nows:", err)
		os.Exit(2)
	}
	if b != nil {
		defer b.Close()
		opts.Hub.Broker = b
	}
	bp := framework.NewBlueprint("/fanout",
		framework.Route[Member](""),
		framework.Route[Publisher]("/pub"),
	)
	if err := framework.Run(context.Background(), framework.NewServer(opts), bp); err != nil {
		fmt.Fprintln(os.Stderr, "nows:", err)
		os.Exit(1)
	}
}

// broker is a framework.Broker that the server closes when it is done.
type broker interface {
	framework.Broker
	Close() error
}

// newBroker connects to the broker at url, or returns nil for "".
func newBroker(url string) (broker, error) {
	switch {
	case url == "":
		return nil, nil
	case strings.HasPrefix(url, "nats://"):
		b, err := natsbroker.Connect(url, natsbroker.Options{Prefix: "bench."})
		if err != nil {
			return nil, err
		}
		return b, nil
	case strings.HasPrefix(url, "redis://"):
		b, err := redisbroker.Connect(url, redisbroker.Options{Prefix: "bench:"})
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("--broker %q: want nats://HOST:PORT or redis://HOST:PORT", url)
}
