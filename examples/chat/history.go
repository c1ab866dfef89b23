package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/redis/go-redis/v9"
)

// newHistory opens the store named by url (--history) and gives every
// room its window; the zero Config (history off) for "off", and for ""
// with a broker: each node's memory would hold a history of its own, and
// a room with history skips the broker, so nodes would not see each
// other's messages.
func newHistory(url, broker string) (history.Config, io.Closer, error) {
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
	// nats://: framework/history/natshistory, a JetStream store, goes here.
	default:
		return history.Config{}, nil, fmt.Errorf("--history %q: want memory, redis://HOST:PORT or off", url)
	}
	return history.Config{Store: store, Rooms: blueprints.HistoryRooms()}, closer, nil
}
