// Package blueprints holds the heartbeat example's blueprint: the heartbeat
// of NoWebsocket's guide ("心跳检测实现"), done twice. /heartbeat/keepalive
// leaves it to the server's built-in keep-alive (Options.PingInterval and
// PongTimeout: WebSocket ping frames that browsers answer by themselves);
// /heartbeat/manual does it by hand, with application "ping" messages, as
// the guide does.
package blueprints

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// Heartbeat serves the two ways of detecting dead clients. Its handlers
// log through d.Logger, and Manual takes its window from d.HeartbeatWindow.
func Heartbeat(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/heartbeat",
		framework.RouteFunc("/keepalive", func() *KeepAlive { return &KeepAlive{deps: d} }),
		framework.RouteFunc("/manual", func() *Manual { return &Manual{deps: d} }),
	)
}

// KeepAlive echoes text. It has no heartbeat code at all: the server pings
// every connection that has been quiet for Options.PingInterval and closes
// it with 1001 when the pong is later than Options.PongTimeout.
type KeepAlive struct {
	deps *Deps
}

// OnMessage echoes text.
func (h *KeepAlive) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// OnClose logs why the connection ended: "ping timeout" for a dead client.
func (h *KeepAlive) OnClose(c *framework.Conn, st framework.CloseStatus) {
	h.deps.Logger.Info("keepalive: closed", "remote", c.RemoteAddr(), "status", st.String())
}

// The manual heartbeat's window: a client that sends no "ping" for this
// long is closed with 1001. The server sets it (Deps.HeartbeatWindow, by
// default the guide's 30 seconds); a client may ask for a shorter window
// with ?timeout=10s (STOMP's heart-beat header works this way), never a
// longer one, nor one under MinWindow.
const (
	DefaultWindow = 30 * time.Second
	MinWindow     = 100 * time.Millisecond
)

// Manual is the guide's HeartbeatHandler: the client sends "ping" and gets
// "pong"; a watchdog closes the connection with 1001 when no ping came for
// the window. Where the guide starts a thread that polls every 5 s, the
// watchdog is one goroutine and one timer, tied to the connection's ctx:
// it ends when the connection does, and OnClose waits for it.
type Manual struct {
	deps  *Deps
	beats chan struct{} // a "ping" arrived
	done  chan struct{} // closed when the watchdog has returned
}

// OnOpen starts the watchdog.
func (h *Manual) OnOpen(ctx context.Context, c *framework.Conn) error {
	window, err := parseWindow(c.Request().URL.Query().Get("timeout"), cmp.Or(h.deps.HeartbeatWindow, DefaultWindow))
	if err != nil {
		return websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: err.Error()}
	}
	h.beats = make(chan struct{}, 1)
	h.done = make(chan struct{})
	go h.watch(ctx, c, window)
	return c.SendText(ctx, fmt.Sprintf("send ping at least every %v", window))
}

// watch closes the connection when no beat comes within window. It
// returns when ctx ends, that is when the connection ends.
func (h *Manual) watch(ctx context.Context, c *framework.Conn, window time.Duration) {
	defer close(h.done)
	timer := time.NewTimer(window)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.beats:
			timer.Reset(window)
		case <-timer.C:
			_ = c.Close(websocket.StatusGoingAway, "heartbeat timeout")
			return
		}
	}
}

// OnMessage answers "ping" with "pong" and feeds the watchdog; anything
// else is echoed and does not count as a heartbeat.
func (h *Manual) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if text != "ping" {
		return c.SendText(ctx, text)
	}
	select {
	case h.beats <- struct{}{}:
	default: // a beat is already pending: the watchdog will see it
	}
	return c.SendText(ctx, "pong")
}

// OnClose waits for the watchdog, so that no goroutine outlives the
// connection.
func (h *Manual) OnClose(c *framework.Conn, st framework.CloseStatus) {
	if h.done != nil {
		<-h.done
	}
	h.deps.Logger.Info("manual heartbeat: closed", "remote", c.RemoteAddr(), "status", st.String())
}

// parseWindow reads the ?timeout= the client asked for, at most limit
// (and limit when it asked for none).
func parseWindow(s string, limit time.Duration) (time.Duration, error) {
	if s == "" {
		return limit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < MinWindow || d > limit {
		return 0, fmt.Errorf("timeout must be a duration from %v to %v", MinWindow, limit)
	}
	return d, nil
}
