//go:build !unix

package framework

import "syscall"

// rawIO is false where a socket's descriptor is not read and written with
// read(2) and write(2) (Windows): the wire layer then uses net.Conn's
// Read and Write only, and tryWrite leaves every frame to the writer.
const rawIO = false

func sysRead(fd uintptr, p []byte) (int, error) { return 0, syscall.EINVAL }

func sysWrite(fd uintptr, p []byte) (int, error) { return 0, syscall.EINVAL }
