package wstest

import (
	"log/slog"
	"testing"
)

// testLogger returns a logger that writes through t.Log, so that server
// logs appear with the test that caused them (and only on failure or -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // logging after the test ended is dropped
	w.t.Log(string(p))
	return len(p), nil
}
