// Package blueprints holds the heartbeat example's blueprint: the heartbeat
// of NoWebsocket's guide ("心跳检测实现"), done twice. /heartbeat/keepalive
// leaves it to the server's built-in keep-alive (Options.PingInterval and
// PongTimeout: WebSocket ping frames that browsers answer by themselves);
// /heartbeat/manual does it by hand, with application "ping" messages, as
// the guide does.
package blueprints

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nowebsocket/nows/framework"
)

// Heartbeat serves the two ways of detecting dead clients.
var Heartbeat = framework.NewBlueprint("/heartbeat",
	framework.Route[KeepAlive]("/keepalive"),
	framework.Route[Manual]("/manual"),
)

// KeepAlive echoes text. It has no heartbeat code at all: the server pings
// every connection that has been quiet for Options.PingInterval and closes
// it with 1001 when the pong is later than Options.PongTimeout.
type KeepAlive struct{}

// OnMessage echoes text.
func (h *KeepAlive) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// OnClose logs why the connection ended: "ping timeout" for a dead client.
func (h *KeepAlive) OnClose(c *framework.Conn, st framework.CloseStatus) {
	slog.Info("keepalive: closed", "remote", c.RemoteAddr(), "status", st.String())
}

// The manual heartbeat's window: a client that sends no "ping" for this
// long is closed with 1001. A client may ask for a shorter window with
// ?timeout=10s (STOMP's heart-beat header works this way), never a longer
// one.
const (
	MaxWindow = 30 * time.Second // the guide's 30 seconds
	MinWindow = 100 * time.Millisecond
)

// Manual is the guide's HeartbeatHandler: the client sends "ping" and gets
// "pong"; a watchdog closes the connection with 1001 when no ping came for
// the window. Where the guide starts a thread that polls every 5 s, the
// watchdog is one goroutine and one timer, tied to the connection's ctx:
// it ends when the connection does, and OnClose waits for it.
type Manual struct {
	beats chan struct{} // a "ping" arrived
	done  chan struct{} // closed when the watchdog has returned
}

// OnOpen starts the watchdog.
func (h *Manual) OnOpen(ctx context.Context, c *framework.Conn) error {
	window, err := parseWindow(c.Query().Get("timeout"))
	if err != nil {
		return framework.CloseError{Code: framework.StatusPolicyViolation, Reason: err.Error()}
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
			_ = c.Close(framework.StatusGoingAway, "heartbeat timeout")
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
	slog.Info("manual heartbeat: closed", "remote", c.RemoteAddr(), "status", st.String())
}

// parseWindow reads the ?timeout= the client asked for.
func parseWindow(s string) (time.Duration, error) {
	if s == "" {
		return MaxWindow, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < MinWindow || d > MaxWindow {
		return 0, fmt.Errorf("timeout must be a duration from %v to %v", MinWindow, MaxWindow)
	}
	return d, nil
}
