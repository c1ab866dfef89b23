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
	// ErrRouteConflict: two routes match the same paths (Register).
	ErrRouteConflict = errors.New("framework: route conflict")
	// ErrBadHandler: a handler Register cannot serve (see its error).
	ErrBadHandler = errors.New("framework: bad handler")
	// ErrBadCloseCode is returned for a close code that may not be sent.
	ErrBadCloseCode = errors.New("framework: close code may not be sent")
	// ErrBadMessage is returned when a Message to broadcast is invalid.
	ErrBadMessage = errors.New("framework: invalid message")
	// ErrEmptyName is returned for an empty room or user name.
	ErrEmptyName = errors.New("framework: empty room or user name")
	// ErrBroker wraps the errors of a Broker, as reported by Hub.Err.
	ErrBroker = errors.New("framework: broker")
)

// httpError rejects a handshake with an HTTP status; see [Reject].
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("framework: handshake rejected: %d %s", e.status, e.text())
}

func (e *httpError) text() string {
	if e.message != "" {
		return e.message
	}
	return http.StatusText(e.status)
}

// Reject returns an error for [HandshakeHandler.OnHandshake] that makes the
// handshake fail with the given HTTP status and message (the status text
// when message is ""), before the connection is upgraded.
func Reject(status int, message string) error {
	return &httpError{status: status, message: message}
}
