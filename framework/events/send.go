package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/internal/wire"
)

// envelope encodes the event name with payload as a text message.
func envelope(name string, payload any) (framework.Message, error) {
	if name == "" {
		return framework.Message{}, errors.New("events: empty event name")
	}
	b, err := wire.EncodeEvent(name, 0, payload)
	if err != nil {
		return framework.Message{}, fmt.Errorf("events: event %q: %w", name, err)
	}
	return framework.Message{Type: websocket.MessageText, Data: b}, nil
}

// Emit sends the event name with payload (encoded as JSON; nil for none)
// to c, as Conn.SendText sends: from any goroutine, bounded by ctx and
// Options.WriteTimeout. A plain connection gets the envelope's JSON text.
func Emit(ctx context.Context, c *framework.Conn, name string, payload any) error {
	m, err := envelope(name, payload)
	if err != nil {
		return err
	}
	return c.SendText(ctx, string(m.Data))
}

// Broadcast sends the event name with payload to every member of room, on
// every node, as Hub.Broadcast sends: event members receive the event,
// plain members the envelope's JSON text.
func Broadcast(ctx context.Context, hub *framework.Hub, room, name string, payload any) error {
	m, err := envelope(name, payload)
	if err != nil {
		return err
	}
	return hub.Broadcast(ctx, room, m)
}

// BroadcastOthers is Broadcast to every member of room but c, as
// Conn.BroadcastOthers sends.
func BroadcastOthers(ctx context.Context, c *framework.Conn, room, name string, payload any) error {
	m, err := envelope(name, payload)
	if err != nil {
		return err
	}
	return c.BroadcastOthers(ctx, room, m)
}

// Request sends the request name with payload to c and waits for the
// client's reply, decoded into reply (a pointer; nil to drop it). It
// waits until ctx's deadline, or 10 s when ctx has none, then returns an
// error wrapping ErrTimeout; the client's error reply is returned as an
// *Error; a connection that ends first gives framework.ErrClosed, and a
// plain one ErrNotEvents. It may be called from any goroutine, hooks and
// event methods included: replies are read while they wait.
func Request(ctx context.Context, c *framework.Conn, name string, payload, reply any) error {
	v, ok := conns.Load(c)
	if !ok {
		if !c.Connected() {
			return framework.ErrClosed
		}
		return ErrNotEvents
	}
	s := v.(*conn)
	if name == "" {
		return errors.New("events: Request: empty event name")
	}
	data, err := wire.Marshal(payload)
	if err != nil {
		return fmt.Errorf("events: request %q: %w", name, err)
	}
	id, ch, ok := s.await()
	if !ok {
		return framework.ErrClosed
	}
	defer s.forget(id)
	if err := c.SendText(ctx, string(wire.Encode(&wire.Envelope{Event: name, ID: id, Data: data}))); err != nil {
		return err
	}
	return wait(ctx, c, name, ch, reply)
}

// wait waits for the reply to a request.
func wait(ctx context.Context, c *framework.Conn, name string, ch <-chan *wire.Envelope, reply any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	select {
	case env, ok := <-ch:
		switch {
		case !ok:
			return framework.ErrClosed
		case env.Error != nil:
			return (*Error)(env.Error)
		case reply == nil:
			return nil
		}
		if err := wire.Unmarshal(env.Data, reply); err != nil {
			e := (*Error)(err.(*wire.Error))
			e.Event = name
			return e
		}
		return nil
	case <-ctx.Done():
		if !c.Connected() {
			return framework.ErrClosed
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: %q: %w", ErrTimeout, name, ctx.Err())
		}
		return ctx.Err()
	}
}
