// Package events adds typed events to nows: a route declared with [Route]
// or [RouteFunc] speaks the nows.v1 protocol (docs/protocol.md) with the
// clients that offer it (nows.js, framework/client), and stays a plain
// route for the others.
//
// Events are methods of the handler type, so they reach the connection's
// state and the app's dependencies; [On] declares an event, [Handle] a
// request with a reply:
//
//	var Chat = framework.NewBlueprint("/chat",
//		events.Route[Room]("/room/{id}",
//			events.Handle("chat.send", (*Room).Send),
//			events.On("typing", (*Room).Typing)))
//
//	func (r *Room) Send(ctx context.Context, c *framework.Conn, m SendMsg) (Ack, error)
//
// The package decodes each payload (unknown members ignored), calls its
// Validate() error method when it has one, calls the method and sends the
// reply; every mistake of the client gets an error naming the event (and
// the field), never silence. The server sends events with [Emit] and
// [Broadcast] and asks a client with [Request]. The guide is docs/events.md.
package events

import (
	"context"
	"errors"
	"strconv"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/wire"
)

// Subprotocol is the WebSocket subprotocol of the protocol. A client that
// offers it on an events route speaks events; one that does not is plain.
const Subprotocol = "nows.v1"

// Error is the error a client sees, the protocol's error object. A
// handler, OnJoin or Validate that returns an *Error (directly or
// wrapped) chooses its Code (snake_case, not one of the protocol's),
// Message and Field; Event is filled in when empty. Request returns the
// client's error replies as *Error.
type Error struct {
	Code    string `json:"code"`            // a short snake_case code
	Message string `json:"message"`         // for people
	Event   string `json:"event,omitempty"` // the event concerned
	Field   string `json:"field,omitempty"` // the payload member concerned
}

// Error formats the error as "event: code: message" ("code: message"
// without an event).
func (e *Error) Error() string { return (*wire.Error)(e).Error() }

// Errors of Request.
var (
	// ErrTimeout: the client did not reply in time (ctx's deadline, or
	// 10 s); Request's error wraps it and context.DeadlineExceeded.
	ErrTimeout = errors.New("events: request timed out")
	// ErrNotEvents: the connection did not choose the nows.v1 protocol.
	ErrNotEvents = errors.New("events: the connection does not speak nows.v1")
)

// JoinHandler is implemented by handlers whose clients may join rooms
// through the protocol (nows.join). OnJoin decides: nil lets the client
// join room; an error refuses it with the code forbidden and the error's
// text (an *Error chooses its code and message). A handler without OnJoin
// refuses every join. Leaving always succeeds.
type JoinHandler interface {
	OnJoin(ctx context.Context, c *framework.Conn, room string) error
}

// RecoveryHandler is implemented by handlers that resync a client whose
// missed messages of a room with history (framework.HubOptions.History)
// could not be given back: a join with a position the window no longer
// holds, a store that lost the room's history, or a loss found later
// (docs/protocol.md, "Rooms with history"). OnUnrecovered runs on the
// connection's worker once per loss, after the client was told (the
// join's reply with recovered false, or nows.unrecovered) and before any
// later message of room reaches it, so that what it sends (a snapshot of
// the room's state) comes first. reason is history.ReasonEpoch,
// ReasonTooOld or ReasonUnavailable. An error or a panic closes the
// connection as the other hooks do.
type RecoveryHandler interface {
	OnUnrecovered(ctx context.Context, c *framework.Conn, room string, reason history.Reason) error
}

// Spec is one event of a route, made by [On] or [Handle].
type Spec[H any] struct {
	name  string
	reply bool // Handle: the reply carries the method's result
	// run decodes data and calls the method; bad is the client's
	// mistake (bad_payload, invalid), err the method's error.
	run func(h *H, ctx context.Context, c *framework.Conn, data []byte) (out any, bad *wire.Error, err error)
}

// On declares the event name, whose payload decodes into In, handled by
// fn, usually a method expression such as (*Room).Typing. A request for
// it is answered with null data when fn returns nil.
func On[H, In any](name string, fn func(h *H, ctx context.Context, c *framework.Conn, in In) error) Spec[H] {
	checkPayload[In](name)
	if fn == nil {
		panic("events: On(" + strconv.Quote(name) + ", nil): give the method that handles it, such as (*Room).Typing")
	}
	return Spec[H]{name: name, run: func(h *H, ctx context.Context, c *framework.Conn, data []byte) (any, *wire.Error, error) {
		in, bad := decode[In](data)
		if bad != nil {
			return nil, bad, nil
		}
		return nil, nil, fn(h, ctx, c, in)
	}}
}

// Handle declares the request name, whose payload decodes into In,
// handled by fn, whose Out is the reply's data. Sent as an event (no id),
// it runs all the same, and its result is dropped.
func Handle[H, In, Out any](name string, fn func(h *H, ctx context.Context, c *framework.Conn, in In) (Out, error)) Spec[H] {
	checkPayload[In](name)
	if fn == nil {
		panic("events: Handle(" + strconv.Quote(name) + ", nil): give the method that handles it, such as (*Room).Send")
	}
	return Spec[H]{name: name, reply: true, run: func(h *H, ctx context.Context, c *framework.Conn, data []byte) (any, *wire.Error, error) {
		in, bad := decode[In](data)
		if bad != nil {
			return nil, bad, nil
		}
		out, err := fn(h, ctx, c, in)
		return out, nil, err
	}}
}
