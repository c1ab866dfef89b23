//go:build windows

package runner

import "os"

// restartSignal: Windows cannot send SIGHUP, so the app is killed.
var restartSignal = os.Kill

const isWindows = true
