package framework

import (
	"log/slog"
	"os"
)

// SetupLogging makes a text logger at level on standard error the default
// slog logger and returns it, like NoWebsocket's setup_logging:
//
//	framework.SetupLogging(slog.LevelInfo)
func SetupLogging(level slog.Level) *slog.Logger {
	l := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(l)
	return l
}
