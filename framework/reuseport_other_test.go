//go:build !linux

package framework_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// TestReusePortUnsupported: where Linux's SO_REUSEPORT is missing,
// ListenAndServe refuses Options.ReusePort, naming it, instead of
// listening without it.
func TestReusePortUnsupported(t *testing.T) {
	opts := framework.Options{Addr: "127.0.0.1:0", ReusePort: true, Logger: slog.New(slog.DiscardHandler)}
	err := framework.NewServer(opts).ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Options.ReusePort (--reuse-port or NOWS_REUSE_PORT with BindFlags) needs SO_REUSEPORT as Linux has it") {
		t.Fatalf("ListenAndServe with ReusePort: %v, want an error naming the option", err)
	}
}
