package client

import (
	"testing"
	"time"

	"github.com/nowebsocket/nows/internal/wire"
)

func TestCeiling(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, 250 * ms}, {1, 500 * ms}, {2, time.Second}, {6, 16 * time.Second},
		{7, 30 * time.Second}, {100, 30 * time.Second},
	} {
		if got := ceiling(250*ms, 30*time.Second, tc.attempt); got != tc.want {
			t.Errorf("attempt %d: %v, want %v", tc.attempt, got, tc.want)
		}
	}
	if got := ceiling(time.Hour, 2*time.Hour, 1000); got != 2*time.Hour {
		t.Errorf("large delays: %v", got)
	}
}

// The client's own errors carry the protocol's codes.
func TestErrorCodes(t *testing.T) {
	if ErrTimeout.Code != wire.CodeTimeout || ErrDisconnected.Code != wire.CodeDisconnected {
		t.Errorf("codes %q, %q", ErrTimeout.Code, ErrDisconnected.Code)
	}
}
