package main

import (
	"fmt"
	"strings"

	"github.com/nowebsocket/nows/framework"
	natsbroker "github.com/nowebsocket/nows/framework/broker/natsbroker"
)

// useBroker shares the server's rooms with the other nodes through the
// NATS server at url, when there is one, and returns what closes the
// connection to it once the server has shut down. Without a URL, the rooms
// are this process's alone. Start a local server with:
//
//	nats-server -a 127.0.0.1 -p 4222
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
	opts.Hub.Broker = b
	opts.Logger.Info("rooms are shared through NATS", "prefix", prefix)
	return func() { _ = b.Close() }, nil
}
