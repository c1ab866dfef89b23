package blueprints

import (
	"flag"
	"log/slog"
)

// Deps is what the upload app's handlers share: main fills it from its
// flags and passes it to All; tests fill it by hand.
type Deps struct {
	// Logger receives the handlers' logs; it must not be nil.
	Logger *slog.Logger
	// Dir is the directory files are saved in, made at the first upload
	// if missing; "" means a new temporary directory, made then too.
	Dir string
}

// BindFlags binds the settings of d to flags of fs: --dir.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&d.Dir, "dir", d.Dir, "`directory` to save files in (default: a new temporary directory)")
}
