package framework

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/coder/websocket"
)

// Run is the whole of an app's main: it registers the blueprints on s and
// serves them on Options.Addr until ctx ends or SIGINT or SIGTERM (1001)
// or SIGHUP (1012), then shuts down gracefully and returns nil. What fails
// before it listens (a bad flag variable, [Server.Register]'s errors, an
// address in use) is its error. With --routes it prints the routes instead.
func Run(ctx context.Context, s *Server, bps ...*Blueprint) error {
	if err := s.opts.flags.check(); err != nil {
		return err
	}
	if err := s.Register(bps...); err != nil {
		return err
	}
	if s.opts.flags != nil && s.opts.flags.routes {
		return printRoutes(os.Stdout, s.Routes())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.bye.Store(&CloseStatus{Code: websocket.StatusServiceRestart, Reason: "server restarting", Cause: CauseShutdown})
			}
			s.log.Info("nows: shutting down", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.ListenAndServe(ctx)
	cancel()
	return err
}

// printRoutes writes one JSON object per route.
func printRoutes(w io.Writer, routes []RouteInfo) error {
	enc := json.NewEncoder(w)
	for _, r := range routes {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
