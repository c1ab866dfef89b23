package blueprints

import (
	"cmp"
	"flag"
	"log/slog"
	"time"
)

// Deps is what the heartbeat app's handlers share: main fills it from its
// flags and passes it to All; tests fill it by hand.
type Deps struct {
	// Logger receives the handlers' logs; it must not be nil.
	Logger *slog.Logger
	// HeartbeatWindow is the manual heartbeat's window: a client of
	// /heartbeat/manual that sends no "ping" for this long is closed with
	// 1001. A client may ask for a shorter one with ?timeout=, never a
	// longer one. Zero means DefaultWindow.
	HeartbeatWindow time.Duration
}

// BindFlags binds the settings of d to flags of fs: --heartbeat-window.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&d.HeartbeatWindow, "heartbeat-window", cmp.Or(d.HeartbeatWindow, DefaultWindow),
		"close /heartbeat/manual clients that send no ping for this long, with 1001 (a client may ask for less with ?timeout=)")
}
