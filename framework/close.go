package framework

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// Close codes, message types and close errors are coder/websocket's: nows
// is written over it, and Conn.Unwrap hands out its connection, so one set
// of names serves both (websocket.StatusPolicyViolation,
// websocket.MessageText, websocket.CloseError).

// maxReason is the longest close reason a close frame can carry (RFC 6455,
// section 5.5: 125 bytes of payload, 2 of them for the code).
const maxReason = 123

// sendable reports whether c may be written in a close frame.
func sendable(c websocket.StatusCode) bool {
	switch {
	case c == 1004 || c == websocket.StatusNoStatusRcvd || c == websocket.StatusAbnormalClosure || c == 1015:
		return false
	case c >= websocket.StatusNormalClosure && c <= 1014:
		return true
	default:
		return c >= 3000 && c <= 4999
	}
}

// checkClose checks a close code and reason given by the application and
// returns the reason to send: cut at a UTF-8 boundary to 123 bytes.
func checkClose(code websocket.StatusCode, reason string) (string, error) {
	if !sendable(code) {
		return "", fmt.Errorf("%w: %d (send 1000-1003, 1007-1014 or 3000-4999)", ErrBadCloseCode, int(code))
	}
	if !utf8.ValidString(reason) {
		return "", fmt.Errorf("framework: close reason is not valid UTF-8")
	}
	return cutReason(reason), nil
}

// cutReason shortens reason to at most 123 bytes without splitting a
// UTF-8 sequence.
func cutReason(reason string) string {
	if len(reason) <= maxReason {
		return reason
	}
	n := maxReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

// closeErrorOf finds a websocket.CloseError in err, as a value or a pointer.
func closeErrorOf(err error) (websocket.CloseError, bool) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce, true
	}
	var pce *websocket.CloseError
	if errors.As(err, &pce) && pce != nil {
		return *pce, true
	}
	return ce, false
}

// Cause says why a connection ended. It is reported to [CloseHandler.OnClose]
// in [CloseStatus.Cause] next to the close code, which tells more (1002,
// 1003 or 1007 for CauseProtocol, say).
type Cause int

// The causes of a closed connection.
const (
	CausePeer         Cause = iota + 1 // the client sent a close frame
	CauseClosed                        // the application closed it: Conn.Close, Hub.DisconnectUser, Hub.DisconnectRoom
	CauseShutdown                      // the server is shutting down
	CauseIdle                          // nothing received for Options.ReadTimeout
	CausePingTimeout                   // no pong to a keep-alive ping (Options.PingInterval)
	CauseSlow                          // the client did not read: Options.WriteTimeout, or its send queue overflowed
	CauseTooBig                        // a message exceeded Options.MaxMessageBytes
	CauseProtocol                      // the client broke RFC 6455, sent invalid UTF-8 or a message type the handler lacks
	CauseRateLimit                     // the client exceeded Options.MessageRate or Options.ByteRate
	CauseHandlerError                  // a hook returned an error
	CauseHandlerPanic                  // a hook panicked
	CauseAbnormal                      // the connection broke without a close handshake
)

var causeNames = [...]string{
	CausePeer:         "peer closed",
	CauseClosed:       "closed by application",
	CauseShutdown:     "server shutdown",
	CauseIdle:         "idle timeout",
	CausePingTimeout:  "ping timeout",
	CauseSlow:         "slow client",
	CauseTooBig:       "message too big",
	CauseProtocol:     "protocol error",
	CauseRateLimit:    "rate limit",
	CauseHandlerError: "handler error",
	CauseHandlerPanic: "handler panic",
	CauseAbnormal:     "abnormal closure",
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
	// Code is the first side's close code, or 1006 with no close frame.
	Code websocket.StatusCode
	// Reason is the close reason that went with Code.
	Reason string
	// Cause says why the connection ended.
	Cause Cause
	// Err is the underlying error, if any (a hook's error, a network error).
	Err error
}

// String formats the status for logs, e.g. "StatusGoingAway (idle timeout)".
func (s CloseStatus) String() string {
	if s.Reason != "" {
		return fmt.Sprintf("%v %q (%v)", s.Code, s.Reason, s.Cause)
	}
	return fmt.Sprintf("%v (%v)", s.Code, s.Cause)
}
