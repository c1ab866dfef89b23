// Command nows is the nows fan-out server of the benchmark (its echo server
// is examples/echo): /fanout joins the room "bench" with Conn.Join, and
// every message sent on /fanout/pub goes to the room with Hub.Broadcast,
// through each member's send queue, with the default Options. With
// --broker nats://... or redis://... it is one node of a cluster (the room
// spans every node on that broker), as cmd/cluster runs it.
// --presence-interval sets the hub's presence interval, and
// --presence-addr serves GET /presence there: the node's ID and the members
// of the room it sees, per node, as JSON (cmd/cluster -kill reads it).
//
//	go run ./servers/nows --addr 127.0.0.1:8766
//	go run ./servers/nows --addr 127.0.0.1:8767 --broker nats://127.0.0.1:4222
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

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
	flag.DurationVar(&opts.Hub.PresenceInterval, "presence-interval", 0, "the hub's presence interval (0: the framework's default, 5s)")
	presenceAddr := flag.String("presence-addr", "", "HOST:PORT to serve GET /presence on (the room's members per node, as JSON)")
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
	srv := framework.NewServer(opts)
	if *presenceAddr != "" {
		ln, err := net.Listen("tcp", *presenceAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "nows:", err)
			os.Exit(2)
		}
		ps := &http.Server{Handler: presenceHandler(srv.Hub()), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ps.Serve(ln) }()
		defer ps.Close()
	}
	if err := framework.Run(context.Background(), srv, bp); err != nil {
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

// Presence is what GET /presence answers: this node's ID and the members
// of the room it sees (Hub.Members), in all and per node ID.
type Presence struct {
	Node    string         `json:"node"`
	Members int            `json:"members"`
	Nodes   map[string]int `json:"nodes"`
}

// presenceHandler serves GET /presence from hub.
func presenceHandler(hub *framework.Hub) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /presence", func(w http.ResponseWriter, r *http.Request) {
		ms := hub.Members(room)
		p := Presence{Node: hub.Node(), Members: len(ms), Nodes: map[string]int{}}
		for _, m := range ms {
			p.Nodes[m.Node]++
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	return mux
}
