//go:build !linux

package framework

// Elsewhere than on Linux an idle connection waits in awaitData, on its
// goroutine (see park_linux.go).

func (c *Conn) park() bool { return false }

func (w *wireConn) wakeParked() {}

func (w *wireConn) unpark(uint64) {}
