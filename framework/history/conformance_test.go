package history_test

import (
	"testing"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/historytest"
)

// TestMemoryConformance runs the engines' conformance test on the memory
// store, with the real clock.
func TestMemoryConformance(t *testing.T) {
	historytest.Run(t, func(*testing.T) history.Store { return history.NewMemory() })
}
