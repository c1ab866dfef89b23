package client

import (
	"encoding/json"
	"slices"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/wire"
)

// Recovery tells how a join of a room with history went, or that the
// server lost messages of a room the client is in (docs/recovery-design.md).
type Recovery struct {
	Room string // the room joined
	// Recovered: the server sends every message the client missed since
	// its last one, before the live ones, each once and in order.
	Recovered bool
	// Reason is why not: history.ReasonTooOld (a message missed has left
	// the room's window), history.ReasonEpoch (the server's store lost
	// the room's history) or history.ReasonUnavailable (the store failed).
	// It is empty when the client had no position to recover from: the
	// first join of the room.
	Reason history.Reason
}

// OnRecovery sets fn to be told, in order with the handlers, after each
// join of a room with history (Join's, and the client's own after a
// reconnect), and each time the server says it lost messages of a room
// the client is in. Messages missed and not recovered are gone: fn is
// where the app fetches its state again. After Close it is not called.
func (c *Client) OnRecovery(fn func(Recovery)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onRecov = fn
}

// joined takes the reply to a join of room: the room's position and, for
// a room with history, its Recovery. A recovered join keeps the client's
// position: the missed messages follow the reply, up to the reply's
// position; one not recovered goes on live from the reply's position.
// mu is held.
func (c *Client) joined(room string, data json.RawMessage) {
	var j wire.Joined
	if json.Unmarshal(data, &j) != nil || j.Pos == nil && j.Recovered == nil {
		return // a room without history
	}
	r := Recovery{Room: room, Recovered: j.Recovered != nil && *j.Recovered, Reason: j.Reason}
	if j.Pos != nil && !r.Recovered {
		c.setPos(room, *j.Pos)
	}
	c.in.push(item{recovery: &r})
}

// track takes the position of a room message, and reports whether env is
// for the client alone (nows.pos, nows.unrecovered).
func (c *Client) track(env *wire.Envelope) bool {
	if env.Pos == nil && env.Event != wire.EventUnrecovered {
		return false // most events: no lock
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if env.Event == wire.EventUnrecovered {
		var u wire.Unrecovered
		if json.Unmarshal(env.Data, &u) == nil && slices.Contains(c.rooms, u.Room) {
			c.setPos(u.Room, u.Pos)
			c.in.push(item{recovery: &Recovery{Room: u.Room, Reason: u.Reason}})
		}
		return true
	}
	if slices.Contains(c.rooms, env.Room) {
		c.setPos(env.Room, *env.Pos)
	}
	return env.Event == wire.EventPos
}

// appEvent is the name the app's handlers know event by: a room's text
// and binary messages are "message" and "binary", with or without
// history.
func appEvent(event string) string {
	switch event {
	case wire.EventText:
		return "message"
	case wire.EventBinary:
		return "binary"
	}
	return event
}

// setPos sets room's position; a position without epoch (the server did
// not know the room's) leaves the one the client had. mu is held.
func (c *Client) setPos(room string, p history.Position) {
	if p.Epoch != "" {
		c.pos[room] = p
	}
}

// since returns room's position, nil if the client has none. mu is held.
func (c *Client) since(room string) *history.Position {
	if p, ok := c.pos[room]; ok {
		return &p
	}
	return nil
}
