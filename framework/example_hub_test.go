package framework_test

import (
	"context"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// Lobby is a handler that puts every connection in the room of its path
// and relays what it says to the others.
type Lobby struct{ room string }

func (h *Lobby) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.room = c.Params().Str("room")
	c.SetUser(c.Request().URL.Query().Get("name"))
	return c.Join(h.room)
}

func (h *Lobby) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.BroadcastOthers(ctx, h.room, framework.Text(text))
}

// Rooms, a per-route send queue and a broker shared by two servers.
func ExampleHub() {
	rooms := framework.NewBlueprint("/rooms",
		framework.Route[Lobby]("/{room:str}"),
		framework.Route[Lobby]("/ticker/{room:str}").
			WithQueue(framework.QueueOptions{MaxMessages: 64, Policy: framework.QueueDrop}),
	)
	broker := framework.NewMemoryBroker() // or natsbroker.Connect, redisbroker.Connect
	opts := framework.Options{
		Hub:       framework.HubOptions{Broker: broker},
		SendQueue: framework.QueueOptions{MaxMessages: 256, Policy: framework.QueueClose},
	}
	node1, node2 := framework.NewServer(opts), framework.NewServer(opts)
	_ = node1.Register(rooms)
	_ = node2.Register(rooms)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, _ := framework.JSON(map[string]string{"type": "notice", "text": "hello"})
	_ = node1.Hub().Broadcast(ctx, "lobby", m) // members on both nodes
	_ = node2.Hub().DisconnectUser(ctx, "mallory", websocket.StatusPolicyViolation, "banned")
}

// A worker broadcasts to the rooms of the servers that share its broker.
func ExampleNewHub() {
	broker := framework.NewMemoryBroker() // the servers' broker
	pub := framework.NewHub(framework.HubOptions{Broker: broker})
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := pub.Broadcast(ctx, "lobby", framework.Text("maintenance at noon")); err != nil {
		panic(err)
	}
}
