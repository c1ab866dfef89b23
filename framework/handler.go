package framework

import (
	"context"
	"net/http"
	"reflect"

	"github.com/nowebsocket/nows/internal/hookcheck"
)

// A handler is any type whose pointer implements some of the hook interfaces
// below. The framework makes a fresh value for every connection (see [Route]),
// so its fields are that connection's state. Hooks of one connection run one
// at a time, each after the previous one returned: a handler needs no locks
// for its own fields. A handler must implement MessageHandler or BinaryHandler
// (or both); the other hooks are optional.
//
// A hook that returns an error closes the connection: with the code of a
// [websocket.CloseError], or with websocket.StatusInternalError (1011) and no reason for any
// other error. A hook that panics is recovered, logged with its stack, and
// closes its connection with 1011; the server keeps serving.

// HandshakeHandler is implemented by handlers that authenticate or reject a
// connection before the upgrade; the handler keeps what it learns for the
// other hooks. An error rejects the handshake: 403, or [Reject]'s status.
type HandshakeHandler interface {
	OnHandshake(r *http.Request) error
}

// OpenHandler is implemented by handlers that act when a connection opens.
// ctx is the connection's context, cancelled when the connection ends.
type OpenHandler interface {
	OnOpen(ctx context.Context, c *Conn) error
}

// MessageHandler is implemented by handlers that receive text messages,
// always valid UTF-8 (invalid text closes with 1007). A text message to a
// handler without OnMessage closes with 1003 Unsupported Data.
type MessageHandler interface {
	OnMessage(ctx context.Context, c *Conn, text string) error
}

// BinaryHandler is implemented by handlers that receive binary messages.
// data is only valid until OnBinary returns: copy it to keep it. A binary
// message to a handler without OnBinary closes the connection with 1003.
type BinaryHandler interface {
	OnBinary(ctx context.Context, c *Conn, data []byte) error
}

// CloseHandler is implemented by handlers that act when a connection ends.
// OnClose runs exactly once for every connection whose OnOpen ran (or would
// have run), after the connection is closed; status says how and why.
type CloseHandler interface {
	OnClose(c *Conn, status CloseStatus)
}

// hooks holds the hook interfaces one handler value implements.
type hooks struct {
	handshake HandshakeHandler
	open      OpenHandler
	message   MessageHandler
	binary    BinaryHandler
	close     CloseHandler
}

func hooksOf(v any) hooks {
	var h hooks
	h.handshake, _ = v.(HandshakeHandler)
	h.open, _ = v.(OpenHandler)
	h.message, _ = v.(MessageHandler)
	h.binary, _ = v.(BinaryHandler)
	h.close, _ = v.(CloseHandler)
	return h
}

// hookSpecs are the hooks, by method name, for the signature check at
// registration (internal/hookcheck).
var hookSpecs = map[string]hookcheck.Hook{
	"OnHandshake": {Iface: reflect.TypeFor[HandshakeHandler](), Sig: "func(r *http.Request) error"},
	"OnOpen":      {Iface: reflect.TypeFor[OpenHandler](), Sig: "func(ctx context.Context, c *framework.Conn) error"},
	"OnMessage":   {Iface: reflect.TypeFor[MessageHandler](), Sig: "func(ctx context.Context, c *framework.Conn, text string) error"},
	"OnBinary":    {Iface: reflect.TypeFor[BinaryHandler](), Sig: "func(ctx context.Context, c *framework.Conn, data []byte) error"},
	"OnClose":     {Iface: reflect.TypeFor[CloseHandler](), Sig: "func(c *framework.Conn, status framework.CloseStatus)"},
}

// checkHooks reports a method of the handler type t (a pointer) that is
// named like a hook but would never be called.
func checkHooks(t reflect.Type) error { return hookcheck.Check(t, hookSpecs) }
