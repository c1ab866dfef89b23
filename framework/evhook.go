package framework

import (
	"log/slog"
	"maps"
	"reflect"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/evhook"
	"github.com/nowebsocket/nows/internal/hookcheck"
)

// framework/events wraps handlers in a type of its own; these let it end
// connections and name routes as the framework does (internal/evhook).
func init() {
	evhook.Relabel = func(rs any, handler, source string) any {
		r := rs.(RouteSpec)
		r.handler, r.source = handler, source
		return r
	}
	evhook.Fail = func(c any, err error) { c.(*Conn).hookFailed(err) }
	evhook.Panicked = func(c any, v any) { c.(*Conn).hookPanicked(v) }
	evhook.Refuse = func(c any, code int, reason string) {
		c.(*Conn).fail(websocket.StatusCode(code), reason, CauseProtocol, nil)
	}
	evhook.Logger = func(c any) *slog.Logger { return c.(*Conn).srv.log }
	evhook.JoinSince = func(c any, room string, since *history.Position, id int64) (bool, error) {
		return c.(*Conn).joinSince(room, since, id)
	}
	evhook.CheckHooks = func(t reflect.Type, more map[string]hookcheck.Hook) error {
		all := maps.Clone(hookSpecs)
		maps.Copy(all, more)
		return hookcheck.Check(t, all)
	}
}
