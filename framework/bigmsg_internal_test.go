package framework

import (
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestEnvelopeLen: envelopeLen, by which Broadcast decides that a message
// needs chunks, is the length of the encoded envelope.
func TestEnvelopeLen(t *testing.T) {
	for _, e := range []*envelope{
		{},
		{kind: kindRoom, node: "n1", room: "r", typ: websocket.MessageText, data: []byte("hi")},
		{kind: kindDisconnectUser, node: strings.Repeat("n", 200), room: strings.Repeat("u", 70000), user: "bye", code: 4001},
		{kind: kindChunk, node: "abc", seq: 1 << 62, data: make([]byte, 1<<20)},
	} {
		if got, want := envelopeLen(e), len(encodeEnvelope(e)); got != want {
			t.Errorf("envelopeLen(kind %d) = %d, want %d", e.kind, got, want)
		}
	}
}
