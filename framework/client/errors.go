package client

import (
	"errors"

	"github.com/nowebsocket/nows/internal/wire"
)

// Error is an error of the protocol: the error object of the server's
// reply ({code, message, event, field}), or one the client makes
// ([ErrTimeout], [ErrDisconnected]). A Handle function that returns an
// *Error (directly or wrapped) chooses the code, message and field the
// server sees.
type Error struct {
	Code    string `json:"code"`            // a short snake_case code
	Message string `json:"message"`         // for people
	Event   string `json:"event,omitempty"` // the event concerned
	Field   string `json:"field,omitempty"` // the payload member concerned
}

// Error formats the error as "event: code: message" ("code: message"
// without an event).
func (e *Error) Error() string { return (*wire.Error)(e).Error() }

var (
	// ErrTimeout is returned by a request not answered in time.
	ErrTimeout = &Error{Code: "timeout", Message: "request timed out"}
	// ErrDisconnected is returned by a request in flight, or a message
	// being written, when the connection dropped.
	ErrDisconnected = &Error{Code: "disconnected", Message: "connection lost"}
	// ErrBufferFull is returned by a send while disconnected when
	// Options.BufferSize messages already wait.
	ErrBufferFull = errors.New("client: send buffer full")
	// ErrClosed is returned by a send after Close, or after the client
	// gave up reconnecting.
	ErrClosed = errors.New("client: closed")
)
