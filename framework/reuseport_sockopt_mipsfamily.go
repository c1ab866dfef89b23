//go:build linux && (mips || mipsle || mips64 || mips64le)

package framework

// soReusePort is Linux's SO_REUSEPORT, which package syscall lacks; MIPS
// numbers it apart (as golang.org/x/sys/unix does).
const soReusePort = 0x200
