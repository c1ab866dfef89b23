package blueprints

import (
	"flag"
	"log/slog"
)

// Deps is what the jsonrpc app's handlers share: main fills it from its
// flags and passes it to All; tests fill it by hand.
type Deps struct {
	// Logger receives the handlers' logs (a method's internal errors); it
	// must not be nil.
	Logger *slog.Logger
}

// BindFlags binds the settings of d to flags of fs. The jsonrpc app has
// none of its own yet: add a field to Deps and its flag here.
func (d *Deps) BindFlags(fs *flag.FlagSet) {}
