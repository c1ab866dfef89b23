//go:build unix

package framework

import "syscall"

// rawIO says whether the wire layer reads and writes sockets through
// syscall.RawConn (awaitData, readSocket, tryWrite): on Unix systems.
const rawIO = true

// sysRead reads from the descriptor of a RawConn callback.
func sysRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

// sysWrite writes to the descriptor of a RawConn callback.
func sysWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
