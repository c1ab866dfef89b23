// Package evhook lets framework/events reach what it needs of the
// framework's internals without adding to framework's exported API. The
// framework sets every variable in its init but Unrecovered, which
// framework/events sets in its own; the values are typed any where they
// are framework types, which this package cannot import.
package evhook

import (
	"log/slog"
	"reflect"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/hookcheck"
)

var (
	// Relabel returns the framework.RouteSpec rs with the handler name
	// and declaration site ("dir/file.go:line") that `nows routes` and
	// Register's errors show.
	Relabel func(rs any, handler, source string) any

	// Fail closes c, a *framework.Conn, as the framework closes one whose
	// hook returned err: with the code of a websocket.CloseError, or with
	// 1011 after logging err.
	Fail func(c any, err error)

	// Panicked closes c as the framework closes one whose hook panicked
	// with v, after logging v and the stack.
	Panicked func(c any, v any)

	// Refuse closes c with code and reason, a protocol error of the client
	// (framework.CauseProtocol).
	Refuse func(c any, code int, reason string)

	// Logger returns the logger of c's server.
	Logger func(c any) *slog.Logger

	// JoinSince joins c to room when room has history on c's hub, and
	// recovers what c missed after since (nil: nothing): it queues the
	// reply to request id (0: none) with the room's position, then the
	// missed entries, then the live ones. It reports false, having done
	// nothing, when room has no history or c is in it already; the
	// caller then joins as usual.
	JoinSince func(c any, room string, since *history.Position, id int64) (bool, error)

	// CheckHooks is the framework's check of the hooks of handler type t
	// (a pointer), with the hooks more besides the framework's.
	CheckHooks func(t reflect.Type, more map[string]hookcheck.Hook) error

	// Unrecovered, set by framework/events, runs the app's OnUnrecovered
	// for c, a *framework.Conn, told that it lost messages of room, on
	// c's events worker ahead of the work queued, then resume, which lets
	// out c's messages of room held meanwhile. It reports false, doing
	// nothing, when c has no such hook (not an events connection, a
	// handler without it, or closing); after an error or a panic of the
	// hook, c closes and resume is not called.
	Unrecovered func(c any, room string, reason history.Reason, resume func()) bool
)
