package top

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

// Defaults of the flags.
const (
	DefaultInterval = time.Second
	DefaultRooms    = 10
	minInterval     = 100 * time.Millisecond
	maxRooms        = 500 // what the admin listener serves in one page
)

// Command returns the `top` command.
func Command() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "watch a running app: connections, messages/s, rooms, close codes (reads its admin listener)",
		ArgsUsage: "[ADMIN_URL]",
		Description: `Polls the app's admin listener (GET /api/snapshot; the app's --admin-addr,
NOWS_ADMIN_ADDR, default ` + DefaultURL + `) and shows what its dashboard
shows: connections, messages and bytes per second in and out, the busiest
routes, the close codes, the largest rooms, queue drops and the broker. On a
terminal the screen is redrawn every --interval; piped, one plain snapshot is
printed per interval, separated by a blank line. Rates appear from the second
snapshot on. Ctrl-C stops it.

Examples:
   nows top
   nows top http://127.0.0.1:9100
   nows top --once --rooms 20 127.0.0.1:8766
   ssh prod -L 8766:127.0.0.1:8766    # then nows top on this machine`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "once", Usage: "print one snapshot and exit (no rates: they need two)"},
			&cli.DurationFlag{Name: "interval", Value: DefaultInterval, Usage: "time between snapshots"},
			&cli.IntFlag{Name: "rooms", Value: DefaultRooms, Usage: "show the `N` largest rooms (at most 500)"},
		},
		Action: action,
	}
}

func action(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageErrorf("top: want at most one ADMIN_URL argument, got %d", c.NArg())
	}
	base, err := BaseURL(c.Args().First())
	if err != nil {
		return usageErrorf("top: %v", err)
	}
	cfg := Config{
		URL:      base,
		Interval: c.Duration("interval"),
		Once:     c.Bool("once"),
		Rooms:    c.Int("rooms"),
		NoColor:  c.Bool("no-color") || os.Getenv("NO_COLOR") != "",
	}
	if f, ok := c.App.Writer.(*os.File); ok {
		cfg.Terminal = isatty.IsTerminal(f.Fd())
	}
	if cfg.Interval < minInterval {
		return usageErrorf("top: --interval %s is too short (at least %s)", cfg.Interval, minInterval)
	}
	if cfg.Rooms < 1 || cfg.Rooms > maxRooms {
		return usageErrorf("top: --rooms %d: choose 1 to %d", cfg.Rooms, maxRooms)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
	defer stop()
	return Run(ctx, cfg, c.App.Writer)
}

// usageErrorf is a mistake on the command line: nows exits with 2.
func usageErrorf(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), 2)
}

// Config is what Run needs.
type Config struct {
	URL      string        // the admin listener's base URL (see BaseURL)
	Interval time.Duration // between snapshots
	Once     bool          // print one snapshot and return
	Rooms    int           // the largest rooms to show
	NoColor  bool
	Terminal bool // redraw in place with colour; else plain frames one after another
	Frames   int  // stop after this many frames; 0: until ctx ends (tests set it)
	Client   *http.Client
}

// Run prints snapshots of the admin listener at cfg.URL to w until ctx
// ends (then it returns nil), or once with cfg.Once. When the first
// snapshot cannot be read it returns that error; later failures are shown
// in place of the snapshot, and it keeps trying.
func Run(ctx context.Context, cfg Config, w io.Writer) error {
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: max(2*time.Second, 2*cfg.Interval)}
	}
	if cfg.Rooms <= 0 {
		cfg.Rooms = DefaultRooms
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	st := newStyles(w, cfg.NoColor || !cfg.Terminal)
	var prev *Snapshot
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 1; ; n++ {
		snap, err := Fetch(ctx, client, cfg.URL, cfg.Rooms)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && (n == 1 || cfg.Once) {
			return err
		}
		var out string
		if err != nil {
			out = st.title.Render("nows top") + "  " + st.faint.Render(cfg.URL+" · "+time.Now().UTC().Format("15:04:05 UTC")) + "\n\n" +
				st.bad.Render(err.Error()) + "\n" + st.faint.Render(fmt.Sprintf("retrying every %s", cfg.Interval)) + "\n"
			prev = nil // rates start again after the gap
		} else {
			out = frame(st, cfg.URL, snap, computeRates(prev, snap), cfg.Once)
			prev = snap
		}
		switch {
		case cfg.Terminal:
			out = "\x1b[H\x1b[2J" + out // home, clear screen
		case n > 1:
			out = "\n" + out // a blank line between plain frames
		}
		if _, err := io.WriteString(w, out); err != nil {
			return err
		}
		if cfg.Once || (cfg.Frames > 0 && n >= cfg.Frames) {
			return nil
		}
		timer.Reset(cfg.Interval)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}
