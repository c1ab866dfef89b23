package framework

import (
	"fmt"

	"github.com/coder/websocket"
)

// StatusCode is a WebSocket close status code (RFC 6455, section 7.4).
type StatusCode int

// Close status codes defined by RFC 6455 and the IANA registry. Codes 3000 to
// 4999 are free for libraries and applications.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005 // never sent: the peer's close frame had no code
	StatusAbnormalClosure         StatusCode = 1006 // never sent: the connection ended without a close frame
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
)

// String returns the code and its RFC 6455 name, e.g. "1001 going away".
func (c StatusCode) String() string {
	if name, ok := statusNames[c]; ok {
		return fmt.Sprintf("%d %s", int(c), name)
	}
	return fmt.Sprintf("%d", int(c))
}

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusRcvd:            "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
}

// sendable reports whether c may be written in a close frame.
func (c StatusCode) sendable() bool {
	switch {
	case c == 1004 || c == StatusNoStatusRcvd || c == StatusAbnormalClosure || c == 1015:
		return false
	case c >= StatusNormalClosure && c <= 1014:
		return true
	default:
		return c >= 3000 && c <= 4999
	}
}

// Cause says why a connection ended. It is reported to [CloseHandler.OnClose]
// in [CloseStatus.Cause] next to the close code.
type Cause int

// The causes of a closed connection.
const (
	CausePeer            Cause = iota + 1 // the client sent a close frame
	CauseClosed                           // the application called Conn.Close
	CauseIdle                             // nothing received for Options.ReadTimeout
	CauseTooBig                           // a message exceeded Options.MaxMessageBytes
	CauseInvalidUTF8                      // a text message or close reason was not valid UTF-8
	CauseProtocol                         // the client broke RFC 6455
	CauseUnsupportedData                  // text to a handler without OnMessage, or binary without OnBinary
	CauseHandlerError                     // a hook returned an error
	CauseHandlerPanic                     // a hook panicked
	CauseShutdown                         // the server is shutting down
	CauseWriteTimeout                     // the client stopped reading for Options.WriteTimeout
	CausePingTimeout                      // no pong within Options.PongTimeout
	CauseAbnormal                         // the connection broke without a close handshake
	CausePolicy                           // a server policy closed it (rate limit, slow consumer...)
	CauseRateLimit                        // the client exceeded Options.MessageRate or Options.ByteRate
)

var causeNames = [...]string{
	CausePeer:            "peer closed",
	CauseClosed:          "closed by application",
	CauseIdle:            "idle timeout",
	CauseTooBig:          "message too big",
	CauseInvalidUTF8:     "invalid UTF-8",
	CauseProtocol:        "protocol error",
	CauseUnsupportedData: "unsupported data",
	CauseHandlerError:    "handler error",
	CauseHandlerPanic:    "handler panic",
	CauseShutdown:        "server shutdown",
	CauseWriteTimeout:    "write timeout",
	CausePingTimeout:     "ping timeout",
	CauseAbnormal:        "abnormal closure",
	CausePolicy:          "policy",
	CauseRateLimit:       "rate limit",
}

// String describes the cause in a few words, e.g. "idle timeout".
func (c Cause) String() string {
	if c > 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("Cause(%d)", int(c))
}

// CloseStatus describes how a connection ended.
type CloseStatus struct {
	// Code is the close code: the one the client sent when it closed first,
	// the one the server sent otherwise, or StatusAbnormalClosure when the
	// connection broke without a close frame.
	Code StatusCode
	// Reason is the close reason that went with Code.
	Reason string
	// Cause says why the connection ended.
	Cause Cause
	// Err is the underlying error, if any (a hook's error, a network error).
	Err error
}

// String formats the status for logs, e.g. "1001 going away (idle timeout)".
func (s CloseStatus) String() string {
	if s.Reason != "" {
		return fmt.Sprintf("%v %q (%v)", s.Code, s.Reason, s.Cause)
	}
	return fmt.Sprintf("%v (%v)", s.Code, s.Cause)
}

// CloseError is an error a hook returns to close its connection with a chosen
// code and reason, for example
//
//	return framework.CloseError{Code: framework.StatusPolicyViolation, Reason: "bad input"}
//
// Any other error closes with StatusInternalError and no reason, so that no
// internal detail reaches the client.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error implements error.
func (e CloseError) Error() string {
	return fmt.Sprintf("framework: close %v %q", e.Code, e.Reason)
}

func toCoder(c StatusCode) websocket.StatusCode { return websocket.StatusCode(c) }
