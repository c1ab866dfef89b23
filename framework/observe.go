package framework

import (
	"time"

	"github.com/coder/websocket"
)

// An Observer sees what happens on a Server (Options.Observer; see
// framework/metrics). Observe runs on hot paths, concurrently, sometimes
// under a connection's locks: it must be quick and never block.
type Observer interface {
	Observe(Event)
}

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of Event, and the fields each sets beside Kind and Route.
const (
	EventHandshake EventKind = iota + 1 // an upgrade request answered: Status (101 when upgraded); Route "" when none matched
	EventOpen                           // a connection opened (before OnOpen)
	EventClose                          // a connection ended: Code, Cause, Duration (since it opened)
	EventReceived                       // a message read: Type, Bytes (payload)
	EventSent                           // a message handed to a connection, written or queued: Type, Bytes
	EventDropped                        // queued messages dropped unwritten (QueueDrop, overflow, close): Count
	EventHook                           // a hook returned: Hook ("OnOpen", "OnMessage", "OnBinary", "OnClose"), Duration
	EventPublish                        // the hub published to its broker: Err when it failed (Route "")
	EventBlocked                        // a broadcast waits for room in a full QueueBlock queue
)

// Event is one thing an Observer sees; Kind says which fields are set.
type Event struct {
	Kind                 EventKind
	Route, Hook          string // Route: the route's pattern, never a raw path
	Status, Bytes, Count int
	Type                 websocket.MessageType
	Code                 websocket.StatusCode
	Cause                Cause
	Duration             time.Duration
	Err                  error
}

// observe reports an event on c's route, when the server has an observer.
func (c *Conn) observe(e Event) {
	if o := c.srv.opts.Observer; o != nil {
		e.Route = c.route.full
		o.Observe(e)
	}
}

// observeData reports a message of typ and n bytes, received or sent.
func (c *Conn) observeData(kind EventKind, typ websocket.MessageType, n int) {
	if o := c.srv.opts.Observer; o != nil {
		o.Observe(Event{Kind: kind, Route: c.route.full, Type: typ, Bytes: n})
	}
}
