package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	echo "github.com/nowebsocket/nows/examples/echo/blueprints"
	rpc "github.com/nowebsocket/nows/examples/jsonrpc/blueprints"
	"github.com/nowebsocket/nows/framework"
)

// TestRPCPage drives examples/jsonrpc/static/index.html: its requests go
// through nows.js, which the server serves, and come back as results or as
// the server's errors.
func TestRPCPage(t *testing.T) {
	logger := testLogger(t)
	srv := serveExample(t, framework.Options{Logger: logger}, "../jsonrpc/static", rpc.All(&rpc.Deps{Logger: logger})...)
	ctx := newTab(t)
	console := watchConsole(t, ctx)

	run(t, ctx, "open the page", chromedp.Navigate(srv.URL+"/"), waitText("#log", "connected"))
	run(t, ctx, "add 2 and 3", chromedp.Click(chromedp.ID("call")), waitText("#log", "result: 5"))
	run(t, ctx, "divide by zero",
		chromedp.SetValue(chromedp.ID("method"), "divide"),
		chromedp.SetValue(chromedp.ID("params"), `{"a": 1, "b": 0}`),
		chromedp.Click(chromedp.ID("call")),
		waitText("#log", "error division_by_zero: b is zero (field b)"),
	)
	run(t, ctx, "an unknown event",
		chromedp.SetValue(chromedp.ID("method"), "mul"),
		chromedp.Click(chromedp.ID("call")),
		waitText("#log", `error unknown_event: unknown event "mul"`),
	)
	run(t, ctx, "counter: add, reset (an event), get",
		chromedp.SetValue(chromedp.ID("method"), "counter.add"),
		chromedp.SetValue(chromedp.ID("params"), `{"n": 7}`),
		chromedp.Click(chromedp.ID("call")),
		waitText("#log", "result: 7"),
		chromedp.SetValue(chromedp.ID("method"), "counter.reset"),
		chromedp.SetValue(chromedp.ID("params"), "{}"),
		chromedp.Click(chromedp.ID("notify")),
		chromedp.SetValue(chromedp.ID("method"), "counter.get"),
		chromedp.Click(chromedp.ID("call")),
		waitText("#log", "result: 0"),
	)
	screenshot(t, ctx, "rpc-page.png")
	if errs := console.errors(true); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestNewProjectPage drives the test page nows new writes
// (templates/project/static/index.html) against a plain route (echo) and
// a route of typed events (jsonrpc's /rpc) through /_nows/nows.js.
func TestNewProjectPage(t *testing.T) {
	logger := testLogger(t)
	bps := append(echo.All(&echo.Deps{Logger: logger}), rpc.All(&rpc.Deps{Logger: logger})...)
	srv := serveExample(t, framework.Options{Logger: logger}, "../../templates/project/static", bps...)
	ctx := newTab(t)
	console := watchConsole(t, ctx)

	run(t, ctx, "open the page", chromedp.Navigate(srv.URL+"/"), waitText("#state", "closed"))
	run(t, ctx, "plain: echo",
		chromedp.SetValue(chromedp.ID("url"), "ws://"+srv.Host+"/echo"),
		chromedp.Click(chromedp.ID("connect")),
		waitText("#state", "open"),
		chromedp.SendKeys(chromedp.ID("message"), "hello plain"),
		chromedp.Click(chromedp.ID("sendText")),
		waitText("#log", "← text: hello plain"),
		chromedp.Click(chromedp.ID("disconnect")),
		waitText("#state", "closed"),
	)
	run(t, ctx, "nows.v1: requests and an event",
		choose("proto", "nows"),
		chromedp.SetValue(chromedp.ID("url"), "ws://"+srv.Host+"/rpc"),
		chromedp.Click(chromedp.ID("connect")),
		waitText("#state", "open"),
		waitText("#log", "open (nows.v1)"),
		chromedp.SetValue(chromedp.ID("event"), "upper"),
		chromedp.SetValue(chromedp.ID("payload"), `{"text": "héllo"}`),
		chromedp.Click(chromedp.ID("request")),
		waitText("#log", `← reply: "HÉLLO"`),
		chromedp.SetValue(chromedp.ID("event"), "add"),
		chromedp.SetValue(chromedp.ID("payload"), `{"a": 1}`),
		chromedp.Click(chromedp.ID("request")),
		waitText("#log", "← error invalid: want numbers a and b"),
		chromedp.SetValue(chromedp.ID("event"), "nope"),
		chromedp.Click(chromedp.ID("emit")),
		waitText("#log", `← error unknown_event: unknown event "nope"`),
	)
	screenshot(t, ctx, "new-project-page-events.png")
	run(t, ctx, "disconnect", chromedp.Click(chromedp.ID("disconnect")), waitText("#state", "closed"))
	if errs := console.errors(true); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// choose selects the option value of the <select> with the id, as a user
// does: its change handlers run.
func choose(id, value string) chromedp.Action[chromedp.Void] {
	return waitJS("choose "+value+" in #"+id, fmt.Sprintf(
		`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change")); return s.value === %q; })()`,
		id, value, value))
}
