//go:build !linux

package framework

import "syscall"

// reusePort is nil where Linux's SO_REUSEPORT (which spreads connections
// among the sockets sharing a port) is missing: ListenAndServe refuses
// Options.ReusePort there rather than listen without it.
var reusePort func(network, address string, c syscall.RawConn) error
