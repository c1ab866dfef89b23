package blueprints

import (
	"cmp"
	"flag"
	"log/slog"
	"os"
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
}

// BindFlags binds the settings of d to flags of fs: --broker, which also
// reads NOWS_BROKER.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&d.Broker, "broker", cmp.Or(os.Getenv("NOWS_BROKER"), d.Broker),
		"`url` of the broker that shares rooms between nodes, nats://HOST:PORT or redis://HOST:PORT (env NOWS_BROKER; default: this process alone)")
}
