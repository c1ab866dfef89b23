package events

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/hookcheck"
)

// Route binds template to the handler type H, as framework.Route does,
// with the events evs: every connection gets a fresh new(H). The route
// negotiates the subprotocol nows.v1 only, in place of
// Options.Subprotocols (call WithSubprotocols(events.Subprotocol, ...) on
// it to offer others too). A connection that chose nows.v1 speaks events;
// any other is plain: H's OnMessage and OnBinary get its messages, and a
// message H has no hook for closes it with 1003, as on a framework route.
//
// H's hooks serve both kinds of connection. On an events one, OnOpen,
// OnBinary, OnJoin, OnClose and the events run one at a time, in order,
// on a goroutine of the connection's own that exists only while there is
// work, while the read loop goes on routing the replies to Request: they
// may wait for one; OnUnrecovered runs there too, ahead of the work
// queued. Route panics,
// naming H, the event and the fix, when two events share a name, a name
// is empty or starts with "nows." (the protocol's own), or a method of H
// is named like a hook with another signature.
func Route[H any](template string, evs ...Spec[H]) framework.RouteSpec {
	return newRoute(template, func() *H { return new(H) }, evs)
}

// RouteFunc is Route with a constructor, as framework.RouteFunc: newHandler
// runs once per connection and once at registration, and must not return
// nil.
func RouteFunc[H any](template string, newHandler func() *H, evs ...Spec[H]) framework.RouteSpec {
	return newRoute(template, newHandler, evs)
}

// routeTable is what the connections of one route share.
type routeTable[H any] struct {
	events map[string]*Spec[H]
}

func newRoute[H any](template string, newHandler func() *H, evs []Spec[H]) framework.RouteSpec {
	t := reflect.TypeFor[H]()
	where := fmt.Sprintf("events: route %q (handler %v)", template, t)
	if t.Kind() == reflect.Pointer {
		panic(fmt.Sprintf("%s: handler type %v is a pointer: write Route[%v], the framework makes a new one per connection", where, t, t.Elem()))
	}
	if err := evhook.CheckHooks(reflect.PointerTo(t), ownHooks); err != nil {
		panic(where + ": " + err.Error())
	}
	table := &routeTable[H]{events: make(map[string]*Spec[H], len(evs))}
	for i, sp := range evs {
		sp := &sp
		switch {
		case sp.run == nil:
			panic(fmt.Sprintf("%s: event #%d is a zero Spec: make each with events.On or events.Handle", where, i+1))
		case strings.HasPrefix(sp.name, "nows."):
			panic(fmt.Sprintf("%s: event %q: names starting with \"nows.\" are the protocol's own: rename it", where, sp.name))
		case table.events[sp.name] != nil:
			panic(fmt.Sprintf("%s: two events named %q: rename one or remove one", where, sp.name))
		}
		table.events[sp.name] = sp
	}
	var wrap func() *handler[H]
	if newHandler != nil {
		wrap = func() *handler[H] {
			h := newHandler()
			if h == nil {
				return nil
			}
			return &handler[H]{h: h, table: table}
		}
	}
	rs := framework.RouteFunc(template, wrap).WithSubprotocols(Subprotocol)
	return evhook.Relabel(rs, t.Name(), hookcheck.Caller(2)).(framework.RouteSpec)
}

// ownHooks are the hooks events adds to the framework's, for the check of
// H's methods.
var ownHooks = map[string]hookcheck.Hook{
	"OnJoin": {Iface: reflect.TypeFor[JoinHandler](), Sig: "func(ctx context.Context, c *framework.Conn, room string) error"},
	"OnUnrecovered": {Iface: reflect.TypeFor[RecoveryHandler](),
		Sig: "func(ctx context.Context, c *framework.Conn, room string, reason history.Reason) error"},
}
