package client

// TEMPORARY: a minimal copy of the envelope until internal/wire (branch
// events) is merged; this file is deleted then.

import (
	"encoding/json"
	"fmt"
)

const (
	subprotocol      = "nows.v1"
	codeUnknownEvent = "unknown_event"
	codeInternal     = "internal"
	codeTimeout      = "timeout"
	codeDisconnected = "disconnected"
)

// Error is an error of the protocol: sent by the server in a reply, or
// made by the client (codes timeout and disconnected).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event,omitempty"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (event %q, field %q)", e.Code, e.Message, e.Event, e.Field)
	}
	return e.Code + ": " + e.Message
}

type envelope struct {
	Event string          `json:"event,omitempty"`
	ID    int64           `json:"id,omitempty"`
	Reply int64           `json:"reply,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}
