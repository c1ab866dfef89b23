//go:build linux && !(mips || mipsle || mips64 || mips64le)

package framework

// soReusePort is Linux's SO_REUSEPORT, which package syscall lacks (15 on
// every architecture but MIPS, as golang.org/x/sys/unix has it).
const soReusePort = 0xf
