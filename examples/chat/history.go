package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/natshistory"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/redis/go-redis/v9"
)

// newHistory opens the store named by url (--history) and gives every
// room its window; the zero Config (history off) for "off", and for ""
// with a broker: each node's memory would hold a history of its own, and
// a room with history skips the broker, so nodes would not see each
// other's messages. maxMsg is the server's MaxMessageBytes: a JetStream
// store checks that the NATS server takes messages that large.
func newHistory(url, broker string, maxMsg int64) (history.Config, io.Closer, error) {
	var store history.Store
	var closer io.Closer = nopCloser{}
	switch {
	case url == "off", url == "" && broker != "":
		return history.Config{}, closer, nil
	case url == "memory" && broker != "":
		return history.Config{}, nil, fmt.Errorf("--history memory keeps each node's rooms to itself, which --broker %q links: use --history redis://HOST:PORT or off", broker)
	case url == "", url == "memory":
		store = history.NewMemory()
	case strings.HasPrefix(url, "redis://"), strings.HasPrefix(url, "rediss://"):
		o, err := redis.ParseURL(url)
		if err != nil {
			return history.Config{}, nil, fmt.Errorf("--history %q: %w", url, err)
		}
		rdb := redis.NewClient(o)
		// The default prefix: a Publisher of another process reaches
		// the chat's rooms with redishistory.Options{} too.
		store, closer = redishistory.New(rdb, redishistory.Options{}), rdb
	case strings.HasPrefix(url, "nats://"), strings.HasPrefix(url, "tls://"):
		s, nc, err := jetStream(url, maxMsg)
		if err != nil {
			return history.Config{}, nil, fmt.Errorf("--history %q: %w", url, err)
		}
		store, closer = s, closerFunc(func() error { nc.Close(); return nil })
	default:
		return history.Config{}, nil, fmt.Errorf("--history %q: want memory, redis://HOST:PORT, nats://HOST:PORT (JetStream) or off", url)
	}
	return history.Config{Store: store, Rooms: blueprints.HistoryRooms()}, closer, nil
}

// jetStream connects to NATS at url and opens the chat's JetStream store,
// whose stream keeps the window of every room.
func jetStream(url string, maxMsg int64) (*natshistory.Store, *nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("nows chat history"))
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := natshistory.New(ctx, nc, natshistory.Options{
		Window:          blueprints.HistoryRooms()["*"],
		MaxMessageBytes: int(maxMsg),
	})
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w (the chat's --max-message-bytes is %d)", err, maxMsg)
	}
	return s, nc, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
