package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
	"github.com/nowebsocket/nows/framework/broker/natsbroker"
	"github.com/nowebsocket/nows/framework/broker/redisbroker"
)

// serve connects to the broker of deps.Broker and the history of
// deps.History, if any, serves the chat (and adm, its admin listener)
// until a signal, and closes them once the server has shut down.
func serve(opts framework.Options, adm *admin.Listener, deps *blueprints.Deps) error {
	broker, closer, err := newBroker(deps.Broker)
	if err != nil {
		return err
	}
	defer closer.Close()
	opts.Hub.Broker = broker
	hist, histCloser, err := newHistory(deps.History, deps.Broker, opts.MaxMessageBytes)
	if err != nil {
		return err
	}
	defer histCloser.Close()
	opts.Hub.History = hist
	return adm.Run(context.Background(), framework.NewServer(opts), blueprints.All(deps)...)
}

// newBroker connects to the broker named by url: "" for none (this process
// alone), nats://... or redis://....
func newBroker(url string) (framework.Broker, io.Closer, error) {
	switch {
	case url == "":
		return nil, nopCloser{}, nil
	case strings.HasPrefix(url, "nats://"):
		b, err := natsbroker.Connect(url, natsbroker.Options{Prefix: "chat."})
		return b, b, err
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		b, err := redisbroker.Connect(url, redisbroker.Options{Prefix: "chat:"})
		return b, b, err
	}
	return nil, nil, fmt.Errorf("--broker %q: want nats://HOST:PORT or redis://HOST:PORT", url)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
