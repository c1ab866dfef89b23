package framework

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestReusePortMissing: where SO_REUSEPORT is missing (reusePort is nil,
// reuseport_other.go), ListenAndServe and Run refuse Options.ReusePort,
// naming it and the address, and listen on nothing.
func TestReusePortMissing(t *testing.T) {
	saved := reusePort
	reusePort = nil
	defer func() { reusePort = saved }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // free: an error must come from ReusePort, not from the port
	opts := Options{Addr: addr, ReusePort: true, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel() // bounded: a server that listened after all would serve until then
	want := "framework: listen on " + addr + ": Options.ReusePort (--reuse-port or NOWS_REUSE_PORT with BindFlags) needs SO_REUSEPORT as Linux has it"
	if err := NewServer(opts).ListenAndServe(ctx); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ListenAndServe: %v, want %q", err, want)
	}
	if err := Run(ctx, NewServer(opts)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run: %v, want %q", err, want)
	}
}
