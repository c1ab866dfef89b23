package framework

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Message is what [Hub.Broadcast] sends: make one with [Text], [Binary] or
// [JSON]. Every recipient shares it: do not change Data once broadcast.
type Message struct {
	Type websocket.MessageType
	Data []byte
}

// Text returns a text message. s must be valid UTF-8 (Broadcast checks).
func Text(s string) Message { return Message{Type: websocket.MessageText, Data: []byte(s)} }

// Binary returns a binary message holding a copy of b, so that b may be
// reused at once (OnBinary's data, for example).
func Binary(b []byte) Message {
	return Message{Type: websocket.MessageBinary, Data: append([]byte(nil), b...)}
}

// JSON returns a text message holding v encoded as JSON.
func JSON(v any) (Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Message{}, fmt.Errorf("framework: JSON: %w", err)
	}
	return Message{Type: websocket.MessageText, Data: b}, nil
}

// check reports whether m can be sent.
func (m Message) check() error {
	switch m.Type {
	case websocket.MessageText:
		if !utf8.Valid(m.Data) {
			return fmt.Errorf("%w: text is not valid UTF-8", ErrBadMessage)
		}
	case websocket.MessageBinary:
	default:
		return fmt.Errorf("%w: type %v", ErrBadMessage, m.Type)
	}
	return nil
}
