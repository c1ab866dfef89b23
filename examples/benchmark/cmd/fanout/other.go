//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fanout: Linux only (raw epoll client)")
	os.Exit(1)
}
