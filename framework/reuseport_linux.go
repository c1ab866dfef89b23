package framework

import (
	"os"
	"syscall"
)

// reusePort is the net.ListenConfig Control of Options.ReusePort: it sets
// SO_REUSEPORT on the socket before it binds. Linux then lets every socket
// of one user that set it bind the same address, and spreads the incoming
// connections among them by a hash of their addresses.
var reusePort = func(network, address string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	}); cerr != nil {
		return cerr
	}
	return os.NewSyscallError("setsockopt SO_REUSEPORT", err)
}
