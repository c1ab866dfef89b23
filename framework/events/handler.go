package events

import (
	"context"
	"errors"
	"net/http"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/wire"
)

// handler wraps the app's handler *H: the framework calls its hooks,
// which serve events on a connection that chose nows.v1 and pass
// everything to H's own hooks on a plain one.
type handler[H any] struct {
	h     *H
	table *routeTable[H]
	st    *conn // nil on a plain connection
}

// errRefused ends a hook whose connection is already closing.
var errRefused = errors.New("events: connection refused the message")

// OnHandshake runs H's OnHandshake, if any.
func (w *handler[H]) OnHandshake(r *http.Request) error {
	if hh, ok := any(w.h).(framework.HandshakeHandler); ok {
		return hh.OnHandshake(r)
	}
	return nil
}

// OnOpen runs H's OnOpen: at once on a plain connection, on the
// connection's worker on an events one.
func (w *handler[H]) OnOpen(ctx context.Context, c *framework.Conn) error {
	oh, hasOpen := any(w.h).(framework.OpenHandler)
	if c.Subprotocol() != Subprotocol {
		if hasOpen {
			return oh.OnOpen(ctx, c)
		}
		return nil
	}
	w.st = newConn(c, w.known, func(env *wire.Envelope) error { return w.dispatch(c, env) })
	if rh, ok := any(w.h).(RecoveryHandler); ok {
		w.st.unrecovered = func(room string, reason history.Reason) error {
			return rh.OnUnrecovered(c.Context(), c, room, reason)
		}
	}
	if hasOpen {
		w.st.enqueue(func() error { return oh.OnOpen(c.Context(), c) })
	}
	return nil
}

// OnMessage passes a plain connection's text to H's OnMessage and an
// events connection's to the protocol.
func (w *handler[H]) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if w.st != nil {
		return w.st.receive(text)
	}
	if mh, ok := any(w.h).(framework.MessageHandler); ok {
		return mh.OnMessage(ctx, c, text)
	}
	evhook.Refuse(c, int(websocket.StatusUnsupportedData), "text messages are not supported")
	return errRefused
}

// OnBinary passes binary messages to H's OnBinary: at once on a plain
// connection, on the worker on an events one.
func (w *handler[H]) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	bh, ok := any(w.h).(framework.BinaryHandler)
	if !ok {
		evhook.Refuse(c, int(websocket.StatusUnsupportedData), "binary messages are not supported")
		return errRefused
	}
	if w.st == nil {
		return bh.OnBinary(ctx, c, data)
	}
	data = append([]byte(nil), data...) // valid only until OnBinary returns
	if !w.st.enqueue(func() error { return bh.OnBinary(c.Context(), c, data) }) {
		return errRefused
	}
	return nil
}

// OnClose runs H's OnClose: at once on a plain connection; on an events
// one, after the work queued, and it waits for it.
func (w *handler[H]) OnClose(c *framework.Conn, status framework.CloseStatus) {
	ch, ok := any(w.h).(framework.CloseHandler)
	if w.st == nil {
		if ok {
			ch.OnClose(c, status)
		}
		return
	}
	w.st.close(func() {
		if ok {
			ch.OnClose(c, status)
		}
	})
}
