//go:build !windows

package runner

import "syscall"

// restartSignal asks the app to close its clients with 1012 and exit.
var restartSignal = syscall.SIGHUP

const isWindows = false
