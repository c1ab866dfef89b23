//go:build !linux

package framework

// Elsewhere than on Linux an idle connection waits in awaitData, on its
// goroutine (see park_linux.go).

func (c *Conn) park() bool { return false }

// parkAfter is 0: awaitData waits for as long as the client is idle.
const parkAfter = 0

func (w *wireConn) wakeParked() {}

func (w *wireConn) unpark(uint64) {}

func parksSoFar() uint64 { return 0 }
