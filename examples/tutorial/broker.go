package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nowebsocket/nows/framework"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
	"github.com/nowebsocket/nows/framework/history/natshistory"
)

// useBroker shares the server's rooms with the other nodes through the
// NATS server at url, when there is one, and returns what closes the
// connection to it once the server has shut down. Without a URL, the rooms
// are this process's alone. Start a local server, with JetStream, with:
//
//	nats-server -js -a 127.0.0.1 -p 4222
func useBroker(opts *framework.Options, url string) (close func(), err error) {
	if url == "" {
		return func() {}, nil
	}
	if !strings.HasPrefix(url, "nats://") {
		return nil, fmt.Errorf("--broker %q: want a NATS URL such as nats://127.0.0.1:4222 (or none: this process alone)", url)
	}
	const prefix = "chat." // keeps this app's subjects apart from other apps' on the same server
	b, err := natsbroker.Connect(url, natsbroker.Options{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	// A room with history skips the broker: every node reads its messages
	// from the store, so the store must be one they share, JetStream here.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := natshistory.New(ctx, b.Conn(), natshistory.Options{
		Stream:          "chat-history",
		Prefix:          prefix + "history",
		Window:          opts.Hub.History.Rooms["*"],
		MaxMessageBytes: int(opts.MaxMessageBytes), // New fails if the NATS server takes less
	})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("JetStream (nats-server -js) at %s: %w", url, err)
	}
	opts.Hub.Broker = b
	opts.Hub.History.Store = store
	opts.Logger.Info("rooms are shared through NATS, their history kept in JetStream", "prefix", prefix)
	return func() { _ = b.Close() }, nil
}
