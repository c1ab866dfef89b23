package events

import (
	"errors"
	"strconv"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/wire"
)

// The protocol's own events.
const (
	eventJoin  = "nows.join"
	eventLeave = "nows.leave"
)

// known reports whether the route answers event.
func (w *handler[H]) known(event string) bool {
	return event == eventJoin || event == eventLeave || w.table.events[event] != nil
}

// dispatch handles one event or request, on the worker. Its error, a
// close, ends the connection.
func (w *handler[H]) dispatch(c *framework.Conn, env *wire.Envelope) error {
	switch env.Event {
	case eventJoin, eventLeave:
		return w.room(c, env)
	}
	sp := w.table.events[env.Event]
	out, bad, err := sp.run(w.h, c.Context(), c, env.Data)
	switch {
	case bad != nil:
		bad.Event = env.Event
		return w.st.clientError(env.ID, bad)
	case err != nil:
		return w.failed(c, env, err)
	case env.ID == 0:
		return nil
	}
	if !sp.reply {
		out = nil
	}
	b, err := wire.EncodeReply(env.ID, out)
	if err != nil {
		return w.failed(c, env, err)
	}
	w.st.send(b)
	return nil
}

// failed answers a handler's error: an *Error as it is; a close (the
// connection is closing, or err is a websocket.CloseError) is returned to
// close the connection as the framework would; any other error is logged
// and the client sees the code internal.
func (w *handler[H]) failed(c *framework.Conn, env *wire.Envelope, err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		w.sendError(env, (*wire.Error)(e))
		return nil
	}
	if !c.Connected() || isCloseError(err) {
		return err
	}
	evhook.Logger(c).Error("nows: event handler error", "route", c.Route(), "event", env.Event, "err", err)
	w.sendError(env, &wire.Error{Code: wire.CodeInternal, Message: "internal error"})
	return nil
}

// sendError sends e about env, with env's event when e names none.
func (w *handler[H]) sendError(env *wire.Envelope, e *wire.Error) {
	if e.Event == "" {
		cp := *e
		cp.Event = env.Event
		e = &cp
	}
	w.st.send(wire.EncodeError(env.ID, e))
}

func isCloseError(err error) bool {
	if _, ok := errors.AsType[websocket.CloseError](err); ok {
		return true
	}
	_, ok := errors.AsType[*websocket.CloseError](err)
	return ok
}

// roomMsg is the payload of nows.join, nows.leave and their replies.
type roomMsg struct {
	Room string `json:"room"`
}

// room handles nows.join and nows.leave.
func (w *handler[H]) room(c *framework.Conn, env *wire.Envelope) error {
	j, err := wire.DecodeJoin(env.Data)
	if err != nil {
		e := err.(*wire.Error)
		e.Event = env.Event
		return w.st.clientError(env.ID, e)
	}
	m := roomMsg{Room: j.Room}
	if m.Room == "" {
		return w.st.clientError(env.ID, &wire.Error{Code: wire.CodeInvalid, Message: "data.room: want the room's name",
			Event: env.Event, Field: "room"})
	}
	if env.Event == eventLeave {
		c.Leave(m.Room)
	} else if refused, err := w.join(c, env, m.Room); refused || err != nil {
		return err
	} else if done, err := evhook.JoinSince(c, m.Room, j.Since, env.ID); done || err != nil {
		return err // a room with history: the hub replied
	} else if err := c.Join(m.Room); err != nil {
		return nil // the connection is closing
	}
	if env.ID != 0 {
		b, _ := wire.EncodeReply(env.ID, m) // a struct of one string always encodes
		w.st.send(b)
	}
	return nil
}

// join asks H's OnJoin about room; refused reports an error sent.
func (w *handler[H]) join(c *framework.Conn, env *wire.Envelope, room string) (refused bool, err error) {
	jh, ok := any(w.h).(JoinHandler)
	if !ok {
		w.sendError(env, &wire.Error{Code: wire.CodeForbidden, Message: "this route has no rooms to join"})
		return true, nil
	}
	if err := jh.OnJoin(c.Context(), c, room); err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			w.sendError(env, (*wire.Error)(e))
			return true, nil
		}
		if !c.Connected() || isCloseError(err) {
			return true, err
		}
		w.sendError(env, &wire.Error{Code: wire.CodeForbidden, Message: err.Error()})
		return true, nil
	}
	return false, nil
}

func quote(s string) string { return strconv.Quote(s) }
