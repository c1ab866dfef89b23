package blueprints

import (
	"cmp"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/nowebsocket/nows/framework/history"
)

// Deps is what the chat app shares: main fills it from its flags and
// passes it to All; tests fill it by hand.
type Deps struct {
	// Logger receives the handlers' logs; it must not be nil.
	Logger *slog.Logger
	// Broker is the URL of the broker that links the rooms of several
	// nodes: nats://HOST:PORT, redis://HOST:PORT, or "" for this process
	// alone. main connects to it; the handlers do not use it.
	Broker string
	// History is where the rooms keep their recent messages, so that a
	// nows.v1 client back from a dropped connection gets what it missed:
	// "memory" (this process), redis://HOST:PORT, nats://HOST:PORT
	// (JetStream), "off", or "" for memory alone and off with a Broker
	// (one node's memory is not shared). main
	// opens it; the handlers do not use it.
	History string
}

// HistoryRooms is the window of every room (the pattern "*") when the
// history is on: a client back within its last 1,000 messages and the
// last hour recovers what it missed. Every node, and a Publisher that
// writes to the same store, must use the same.
func HistoryRooms() map[string]history.Limits {
	return map[string]history.Limits{"*": {Size: 1000, TTL: time.Hour}}
}

// BindFlags binds the settings of d to flags of fs: --broker, which also
// reads NOWS_BROKER, and --history, which also reads NOWS_HISTORY.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&d.Broker, "broker", cmp.Or(os.Getenv("NOWS_BROKER"), d.Broker),
		"`url` of the broker that shares rooms between nodes, nats://HOST:PORT or redis://HOST:PORT (env NOWS_BROKER; default: this process alone)")
	fs.StringVar(&d.History, "history", cmp.Or(os.Getenv("NOWS_HISTORY"), d.History),
		"`store` of the rooms' recent messages, which clients recover when they reconnect: memory, redis://HOST:PORT, nats://HOST:PORT (JetStream) or off (env NOWS_HISTORY; default: memory alone, off with --broker)")
}
