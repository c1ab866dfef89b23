// Package blueprints holds the echo example's blueprint, as NoWebsocket's
// quick start has it in blueprints/echo_bp.py.
package blueprints

import (
	"context"

	"github.com/nowebsocket/nows/framework"
)

// Echo serves two routes: /echo echoes every message back unchanged, and
// /echo/{message:str} first sends "initial message: <message>", then echoes.
// It takes the app's Deps for GreetHandler's log.
func Echo(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/echo",
		framework.Route[EchoHandler](""),
		framework.RouteFunc("/{message:str}", func() *GreetHandler { return &GreetHandler{deps: d} }),
	)
}

// EchoHandler sends every text and binary message back unchanged.
type EchoHandler struct{}

// OnMessage echoes text.
func (h *EchoHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// OnBinary echoes binary data.
func (h *EchoHandler) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	return c.SendBinary(ctx, data)
}

// GreetHandler greets with its path parameter, then echoes.
type GreetHandler struct {
	EchoHandler
	deps *Deps
}

// OnOpen sends the initial message taken from the path.
func (h *GreetHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, "initial message: "+c.Params().Str("message"))
}

// OnClose logs how the connection ended, like the guide's on_close.
func (h *GreetHandler) OnClose(c *framework.Conn, status framework.CloseStatus) {
	h.deps.Logger.Info("connection closed", "code", int(status.Code), "reason", status.Reason, "cause", status.Cause.String())
}
