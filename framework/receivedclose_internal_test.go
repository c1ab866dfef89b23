package framework

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/coder/websocket"
)

// TestReceivedClose checks that receivedClose finds the client's close
// status where errors.As would: coder wraps it twice with %w.
func TestReceivedClose(t *testing.T) {
	ce := websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "bye"}
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"bare", ce, true},
		{"coder's wrapping", fmt.Errorf("failed to get reader: %w", fmt.Errorf("received close frame: %w", ce)), true},
		{"joined", errors.Join(io.EOF, fmt.Errorf("x: %w", ce)), true},
		{"two %w", fmt.Errorf("%w and %w", io.EOF, ce), true},
		{"other", fmt.Errorf("read: %w", io.EOF), false},
		{"nil", nil, false},
	} {
		got, ok := receivedClose(tc.err)
		var want websocket.CloseError
		wantOK := errors.As(tc.err, &want)
		if ok != tc.ok || ok != wantOK || got != want {
			t.Errorf("%s: receivedClose = %v, %v; want %v, %v (errors.As: %v, %v)", tc.name, got, ok, ce, tc.ok, want, wantOK)
		}
	}
	wrapped := fmt.Errorf("failed to get reader: %w", fmt.Errorf("received close frame: %w", ce))
	if n := testing.AllocsPerRun(100, func() { _, _ = receivedClose(wrapped) }); n != 0 {
		t.Errorf("receivedClose: %v allocations per run, want 0", n)
	}
}
