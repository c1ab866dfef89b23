// Package admin serves a nows server's admin listener, on its own address
// (127.0.0.1:8766 by default, loopback only): /metrics in the Prometheus
// text format, /api/snapshot (the JSON that the dashboard and nows top
// read) and the dashboard at /.
//
// An app's main wires it in with three lines:
//
//	adm := admin.New(&opts)          // opts.Observer: its metrics
//	adm.BindFlags(flag.CommandLine) // --admin-addr, NOWS_ADMIN_ADDR
//	// ... flag.Parse(), srv := framework.NewServer(opts)
//	err := adm.Run(ctx, srv, bps...) // framework.Run, with the admin listener
//
// Expose it beyond loopback only behind a reverse proxy that asks for
// credentials, or reach it through an SSH tunnel: it has no
// authentication of its own (docs/observability.md).
package admin

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is where the admin listener listens unless told otherwise:
// loopback only.
const DefaultAddr = "127.0.0.1:8766"

//go:embed dashboard
var dashboard embed.FS

// Listener is the admin listener of one server, made by New.
type Listener struct {
	// Addr is where it listens, host:port; "" turns it off. New sets
	// DefaultAddr; Start sets the address it bound (the port chosen, for
	// port 0).
	Addr string

	opts    *framework.Options
	prev    framework.Observer // opts.Observer before New
	own     framework.Observer // what New set: prev and the gated metrics
	metrics *metrics.Metrics
	on      atomic.Bool   // Start is listening: the metrics count
	flags   *flag.FlagSet // the set of BindFlags, for --routes
}

// New returns the admin listener of the server that opts will configure.
// It sets opts.Observer to the listener's metrics (keeping, beside them,
// an observer already set), so call it before framework.NewServer(opts).
// The metrics count only once Start listens. When the flag or variable
// of BindFlags turn the listener off, they also give opts back its
// observer of before New: the server then pays nothing for metrics. The
// listener logs through opts.Logger as it is when Start runs.
func New(opts *framework.Options) *Listener {
	l := &Listener{Addr: DefaultAddr, opts: opts, prev: opts.Observer, metrics: metrics.New()}
	if opts.Observer != nil {
		l.own = both{opts.Observer, gate{l}}
	} else {
		l.own = gate{l}
	}
	opts.Observer = l.own
	return l
}

// setAddr sets Addr from the flag or the variable, and opts.Observer to
// match: the metrics only when the listener is on.
func (l *Listener) setAddr(addr string) {
	l.Addr = addr
	if l.opts == nil {
		return
	}
	if addr == "" {
		l.opts.Observer = l.prev
	} else {
		l.opts.Observer = l.own
	}
}

// addrFlag is --admin-addr.
type addrFlag struct{ l *Listener }

func (f addrFlag) String() string {
	if f.l == nil {
		return ""
	}
	return f.l.Addr
}

func (f addrFlag) Set(s string) error {
	f.l.setAddr(s)
	return nil
}

// gate passes events to the metrics while the listener listens.
type gate struct{ l *Listener }

func (g gate) Observe(e framework.Event) {
	if g.l.on.Load() {
		g.l.metrics.Observe(e)
	}
}

// both is two observers.
type both [2]framework.Observer

func (b both) Observe(e framework.Event) {
	b[0].Observe(e)
	b[1].Observe(e)
}

// BindFlags defines --admin-addr on fs, also read from the environment
// variable NOWS_ADMIN_ADDR: the flag wins over the variable, over Addr.
// Parse fs before Start or Run.
func (l *Listener) BindFlags(fs *flag.FlagSet) {
	l.flags = fs
	if s, ok := os.LookupEnv("NOWS_ADMIN_ADDR"); ok {
		l.setAddr(s)
	}
	fs.Var(addrFlag{l}, "admin-addr",
		"admin listener `address`, host:port, serving /metrics, /api/snapshot and the dashboard (empty: off) (env NOWS_ADMIN_ADDR)")
}

// Start listens on Addr and serves the admin endpoints of srv in the
// background until stop, which returns once they are stopped; with Addr
// "", it does nothing. It logs the address bound ("nows: admin
// listening"); an address in use fails naming --admin-addr and
// NOWS_ADMIN_ADDR. srv must be the server made from the Options given to
// New.
func (l *Listener) Start(srv *framework.Server) (stop func(), err error) {
	if l.Addr == "" {
		return func() {}, nil
	}
	if l.metrics == nil {
		return nil, errors.New("admin: a Listener is made by New")
	}
	l.metrics.Attach(srv)
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return nil, listenError(l.Addr, err)
	}
	l.Addr = ln.Addr().String()
	l.on.Store(true)
	logger := l.opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	hs := &http.Server{
		Handler:           l.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(logWriter{logger}, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("nows: admin listener stopped", "err", err)
		}
	}()
	logger.Info("nows: admin listening", "addr", "http://"+l.Addr+"/")
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if hs.Shutdown(ctx) != nil {
				_ = hs.Close() // a scrape still running after a second is cut
			}
			<-done
		})
	}, nil
}

// Run is framework.Run with the admin listener: it registers the
// blueprints on srv (their errors first, as framework.Run's), starts the
// listener, serves srv until ctx ends or a signal, and stops the listener.
// With --routes (Options.BindFlags on the same flag set), it only prints
// the routes, as framework.Run does, and listens on nothing.
func (l *Listener) Run(ctx context.Context, srv *framework.Server, bps ...*framework.Blueprint) error {
	if l.flags != nil {
		if f := l.flags.Lookup("routes"); f != nil && f.Value.String() == "true" {
			return framework.Run(ctx, srv, bps...)
		}
	}
	if err := srv.Register(bps...); err != nil {
		return err
	}
	stop, err := l.Start(srv)
	if err != nil {
		return err
	}
	defer stop()
	return framework.Run(ctx, srv)
}

// listenError explains why the admin listener could not listen on addr.
func listenError(addr string, err error) error {
	const how = "--admin-addr or NOWS_ADMIN_ADDR, or set it to \"\" to turn the admin listener off"
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("admin: listen %s: address already in use: choose another with %s", addr, how)
	}
	return fmt.Errorf("admin: listen %s: %w: fix the address (host:port) with %s", addr, unwrapOp(err), how)
}

// unwrapOp drops the "listen tcp ADDR:" that net.OpError repeats.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// handler serves the admin endpoints.
func (l *Listener) handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		l.metrics,
	)
	page, _ := fs.Sub(dashboard, "dashboard") // never fails: a valid path
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		page, err1 := intParam(r, "page", 1)
		perPage, err2 := intParam(r, "per_page", 50)
		var body []byte
		err := cmp.Or(err1, err2)
		if err == nil {
			body, err = l.metrics.Snapshot(page, perPage)
		}
		if err != nil {
			http.Error(w, "admin: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
	mux.Handle("GET /", http.FileServerFS(page))
	return securityHeaders(mux)
}

// intParam returns the query parameter name as a number, def when absent.
func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a whole number", name, s)
	}
	return n, nil
}

// securityHeaders keeps the dashboard out of other sites' frames and the
// browser from guessing content types.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// logWriter sends the HTTP server's own logs to the app's logger.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn("nows: admin: " + string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}
