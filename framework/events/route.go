package events

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/internal/evhook"
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
// may wait for one. Route panics,
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
	if err := checkHooks(reflect.PointerTo(t)); err != nil {
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
	return evhook.Relabel(rs, t.Name(), callerSource(2)).(framework.RouteSpec)
}

// hookSigs are the signatures H's hooks must have, as their docs write them.
var hookSigs = map[string]struct {
	iface reflect.Type
	sig   string
}{
	"OnHandshake": {reflect.TypeFor[framework.HandshakeHandler](), "func(r *http.Request) error"},
	"OnOpen":      {reflect.TypeFor[framework.OpenHandler](), "func(ctx context.Context, c *framework.Conn) error"},
	"OnMessage":   {reflect.TypeFor[framework.MessageHandler](), "func(ctx context.Context, c *framework.Conn, text string) error"},
	"OnBinary":    {reflect.TypeFor[framework.BinaryHandler](), "func(ctx context.Context, c *framework.Conn, data []byte) error"},
	"OnClose":     {reflect.TypeFor[framework.CloseHandler](), "func(c *framework.Conn, status framework.CloseStatus)"},
	"OnJoin":      {reflect.TypeFor[JoinHandler](), "func(ctx context.Context, c *framework.Conn, room string) error"},
}

// checkHooks reports a method of t (a pointer type) named like a hook that
// would never be called: another signature, or another spelling.
func checkHooks(t reflect.Type) error {
	for i := range t.NumMethod() {
		m := t.Method(i)
		for name, hook := range hookSigs {
			switch {
			case !strings.EqualFold(m.Name, name):
			case m.Name != name:
				return fmt.Errorf("method (%v).%s is never called: the hook is spelled %s", t, m.Name, name)
			case !t.Implements(hook.iface):
				return fmt.Errorf("method (%v).%s has signature %v; want %s", t, m.Name, funcSig(m.Type), hook.sig)
			}
		}
	}
	return nil
}

// callerSource names the caller skip frames above its caller as
// "dir/file.go:line", as framework does for its routes.
func callerSource(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%s/%s:%d", filepath.Base(filepath.Dir(file)), filepath.Base(file), line)
}
