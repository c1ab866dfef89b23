package framework

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors returned by the framework. Compare with errors.Is.
var (
	// ErrClosed is returned by the send methods of a closed Conn.
	ErrClosed = errors.New("framework: connection closed")
	// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
	ErrServerClosed = errors.New("framework: server closed")
	// ErrRouteConflict wraps every route conflict reported by Register.
	ErrRouteConflict = errors.New("framework: route conflict")
	// ErrNoHandler is returned when a route's handler has neither OnMessage nor OnBinary.
	ErrNoHandler = errors.New("framework: handler has neither OnMessage nor OnBinary")
	// ErrReasonTooLong is returned by Conn.Close for a reason over 123 bytes.
	ErrReasonTooLong = errors.New("framework: close reason longer than 123 bytes")
	// ErrBadCloseCode is returned by Conn.Close for a code that may not be sent.
	ErrBadCloseCode = errors.New("framework: close code may not be sent")
	// ErrBadMessage is returned when a Message to broadcast is invalid.
	ErrBadMessage = errors.New("framework: invalid message")
	// ErrBadRoom is returned for an empty room name.
	ErrBadRoom = errors.New("framework: empty room name")
	// ErrBroker wraps the errors of a Broker, as reported by Hub.Err.
	ErrBroker = errors.New("framework: broker")
)

// HTTPError rejects a handshake with an HTTP status. Return one from
// [HandshakeHandler.OnHandshake], usually through [Reject].
type HTTPError struct {
	Status  int    // HTTP status code, e.g. http.StatusUnauthorized
	Message string // response body; defaults to the status text
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("framework: handshake rejected: %d %s", e.Status, e.text())
}

func (e *HTTPError) text() string {
	if e.Message != "" {
		return e.Message
	}
	return http.StatusText(e.Status)
}

// Reject returns an error that makes the handshake fail with the given HTTP
// status and message, before the connection is upgraded.
func Reject(status int, message string) error {
	return &HTTPError{Status: status, Message: message}
}
