// Package bench is `nows bench`, a WebSocket load generator: echo round
// trips over many connections (messages/s, latency percentiles, errors),
// idle connections held open, and handshakes per second.
//
// Command returns the urfave/cli command; Run is the library entry point
// used by the benchmark orchestrator (examples/benchmark) and by tests.
//
// The client is built not to be the bottleneck: echo connections use
// github.com/coder/websocket with its fast paths (a context whose Done is
// nil for every read and write, Conn.Reader into a reused buffer,
// Conn.Write), one goroutine per connection (two with --pipeline > 1), a
// per-connection histogram and no allocation per message. Idle connections
// and handshakes use a minimal hand-written handshake (see raw.go).
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Config describes one benchmark run. Zero fields take their defaults. Set
// at most one of Idle and Handshakes; with neither, Run measures echo
// round trips.
type Config struct {
	// URL is the ws:// endpoint, for example ws://127.0.0.1:8765/echo.
	URL string

	// Conns is the number of echo connections, or the concurrency of
	// Handshakes. Defaults to 1.
	Conns int

	// Duration is how long echo traffic runs when Messages is 0.
	// Defaults to 10 s.
	Duration time.Duration

	// Messages, when positive, is the total number of echo round trips,
	// shared by all connections; Duration is then ignored.
	Messages int64

	// Size is the payload size in bytes. Defaults to 64.
	Size int

	// Binary sends binary messages instead of text.
	Binary bool

	// Pipeline is the number of messages in flight per connection.
	// Defaults to 1 (send, wait for the echo, send the next).
	Pipeline int

	// Idle, when positive, opens this many connections, holds them for
	// Hold and reports how many opened. No messages are sent.
	Idle int

	// Hold is how long Idle connections are held. Defaults to 5 s.
	Hold time.Duration

	// Held, if set, is called once the Idle connections are open, before
	// the hold starts (the orchestrator reads the server's memory there).
	Held func(opened int)

	// Handshakes, when positive, opens and closes this many connections,
	// Conns at a time, and reports handshakes per second.
	Handshakes int

	// Timeout bounds each dial and handshake and how long a connection may
	// go without an echo before the run gives up on it. Defaults to 10 s.
	Timeout time.Duration

	// JSON prints the result as one JSON object instead of the summary.
	JSON bool

	// NoColor turns colour off in the summary.
	NoColor bool

	// Progress forces the progress line on (1) or off (-1). Defaults to
	// on when the error writer is a terminal.
	Progress int
}

// Defaults of Config.
const (
	DefaultConns    = 1
	DefaultDuration = 10 * time.Second
	DefaultSize     = 64
	DefaultPipeline = 1
	DefaultHold     = 5 * time.Second
	DefaultTimeout  = 10 * time.Second
)

// Modes of a Result.
const (
	ModeEcho       = "echo"
	ModeIdle       = "idle"
	ModeHandshakes = "handshakes"
)

func (c Config) withDefaults() Config {
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.Size <= 0 {
		c.Size = DefaultSize
	}
	if c.Pipeline <= 0 {
		c.Pipeline = DefaultPipeline
	}
	if c.Hold <= 0 {
		c.Hold = DefaultHold
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

func (c Config) mode() string {
	switch {
	case c.Idle > 0:
		return ModeIdle
	case c.Handshakes > 0:
		return ModeHandshakes
	default:
		return ModeEcho
	}
}

// Result is what a run measured. Durations are in the JSON output as
// microseconds (fields ending in _us) or seconds (_s).
type Result struct {
	Mode    string        `json:"mode"`
	URL     string        `json:"url"`
	Conns   int           `json:"conns"`
	Elapsed time.Duration `json:"-"`

	// Echo.
	Size       int           `json:"size"`
	Binary     bool          `json:"binary"`
	Pipeline   int           `json:"pipeline"`
	Messages   int64         `json:"messages"`
	MsgsPerSec float64       `json:"msgs_per_sec"`
	Mismatches int64         `json:"mismatches"`
	P50        time.Duration `json:"-"`
	P99        time.Duration `json:"-"`
	P999       time.Duration `json:"-"`
	Min        time.Duration `json:"-"`
	Max        time.Duration `json:"-"`
	Mean       time.Duration `json:"-"`

	// Idle.
	Idle     int           `json:"idle"`
	Opened   int           `json:"opened"`
	OpenTime time.Duration `json:"-"`
	Hold     time.Duration `json:"-"`
	Alive    int           `json:"alive"` // idle connections still open after the hold

	// Handshakes.
	Handshakes       int     `json:"handshakes"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	UncleanCloses    int     `json:"unclean_closes"` // no close frame from the server

	// Errors counts failed dials and handshakes, connections lost during
	// the run and echoes that differ from what was sent (Mismatches).
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`

	// FileLimit is the process's open-file limit after Run raised it.
	FileLimit uint64   `json:"file_limit"`
	Warnings  []string `json:"warnings,omitempty"`

	Latency Histogram `json:"-"`
}

// ErrNoConnection is returned when not a single connection could be opened.
var ErrNoConnection = errors.New("bench: no connection could be opened")

// Run runs the benchmark described by cfg and returns what it measured. It
// writes a progress line to stderr while it runs (when stderr is a
// terminal, see Config.Progress) and the summary, or with Config.JSON one
// JSON object, to stdout; pass io.Discard to silence either. An error is
// returned for a bad configuration, when no connection could be opened
// (ErrNoConnection) or when ctx ends first (with the summary of what was
// measured until then); errors during the run are counted in the Result.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) (Result, error) {
	res, err := Measure(ctx, cfg, stderr)
	if res.Mode == "" {
		return res, err // a bad configuration: nothing was measured
	}
	if werr := writeResult(stdout, cfg, res); werr != nil && err == nil {
		err = werr
	}
	return res, err
}

// Measure is Run without the summary: it only writes the progress line
// (and warnings) to stderr.
func Measure(ctx context.Context, cfg Config, stderr io.Writer) (Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Idle > 0 && cfg.Handshakes > 0 {
		return Result{}, fmt.Errorf("bench: choose one of --idle and --handshakes")
	}
	t, err := parseTarget(cfg.URL)
	if err != nil {
		return Result{}, err
	}
	res := Result{Mode: cfg.mode(), URL: cfg.URL, Conns: cfg.Conns}
	need := cfg.Conns
	if cfg.Idle > 0 {
		need = cfg.Idle
	}
	limit, warn := raiseFileLimit(uint64(need) + 64)
	res.FileLimit = limit
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
		fmt.Fprintln(stderr, "bench: warning:", warn)
	}
	p := newProgress(stderr, cfg.Progress)
	switch res.Mode {
	case ModeIdle:
		err = runIdle(ctx, cfg, t, &res, p)
	case ModeHandshakes:
		err = runHandshakes(ctx, cfg, t, &res, p)
	default:
		err = runEcho(ctx, cfg, &res, p)
	}
	return res, err
}

// errorLog counts errors and keeps the first one's text.
type errorLog struct {
	n     int64
	first string
}

func (e *errorLog) add(err error) {
	if e.n == 0 {
		e.first = err.Error()
	}
	e.n++
}
