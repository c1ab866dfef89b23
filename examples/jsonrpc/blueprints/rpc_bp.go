// Package blueprints holds the jsonrpc example's blueprint: typed requests
// with replies, as JSON-RPC gives them, on framework/events (the nows.v1
// protocol of docs/protocol.md). The framework decodes the payloads,
// validates them, matches replies to requests and answers mistakes with
// errors that name the event and the field.
package blueprints

import (
	"context"
	"errors"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// RPC serves /rpc with the requests add, divide, upper, counter.add and
// counter.get, and the event counter.reset (no reply, like a JSON-RPC
// notification). A connection that does not offer nows.v1 gets 1003 at its
// first message: Session has no OnMessage.
func RPC(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/rpc",
		events.RouteFunc("", func() *Session { return &Session{deps: d} },
			events.Handle("add", (*Session).Add),
			events.Handle("divide", (*Session).Divide),
			events.Handle("upper", (*Session).Upper),
			events.Handle("counter.add", (*Session).CounterAdd),
			events.Handle("counter.get", (*Session).CounterGet),
			events.On("counter.reset", (*Session).CounterReset),
		),
	)
}

// Session is one connection: its fields are the state the methods share.
type Session struct {
	deps    *Deps
	counter int64
}

// Operands are the payload of add and divide. Pointers tell a missing
// number from a zero.
type Operands struct {
	A *float64 `json:"a"`
	B *float64 `json:"b"`
}

// Validate requires both numbers: without them the client gets the error
// invalid.
func (o Operands) Validate() error {
	if o.A == nil || o.B == nil {
		return errors.New("want numbers a and b")
	}
	return nil
}

// Add answers a + b.
func (s *Session) Add(ctx context.Context, c *framework.Conn, o Operands) (float64, error) {
	return *o.A + *o.B, nil
}

// Divide answers a / b, or the app's own error code division_by_zero.
func (s *Session) Divide(ctx context.Context, c *framework.Conn, o Operands) (float64, error) {
	if *o.B == 0 {
		return 0, &events.Error{Code: "division_by_zero", Message: "b is zero", Field: "b"}
	}
	return *o.A / *o.B, nil
}

// Text is the payload of upper.
type Text struct {
	Text string `json:"text"`
}

// Upper answers the text in upper case.
func (s *Session) Upper(ctx context.Context, c *framework.Conn, t Text) (string, error) {
	return strings.ToUpper(t.Text), nil
}

// Count is the payload of counter.add.
type Count struct {
	N int64 `json:"n"`
}

// CounterAdd adds n to the connection's counter and answers its value.
func (s *Session) CounterAdd(ctx context.Context, c *framework.Conn, n Count) (int64, error) {
	s.counter += n.N
	return s.counter, nil
}

// CounterGet answers the counter.
func (s *Session) CounterGet(ctx context.Context, c *framework.Conn, _ struct{}) (int64, error) {
	return s.counter, nil
}

// CounterReset is an event: it sets the counter to zero, and answers
// nothing.
func (s *Session) CounterReset(ctx context.Context, c *framework.Conn, _ struct{}) error {
	s.deps.Logger.DebugContext(ctx, "rpc: counter reset", "conn", c.ID(), "was", s.counter)
	s.counter = 0
	return nil
}
