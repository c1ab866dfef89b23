package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	echo "github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework"
)

// TestEchoPage drives examples/echo/static/index.html, the guide's
// test_client.html grown up, in a real browser.
func TestEchoPage(t *testing.T) {
	logger := testLogger(t)
	srv := serveExample(t, framework.Options{Logger: logger}, "../echo/static", echo.All(&echo.Deps{Logger: logger})...)
	ctx := newTab(t)

	run(t, ctx, "open the page", chromedp.Navigate(srv.URL+"/"))
	run(t, ctx, "connect to /echo/Hello",
		chromedp.Click(chromedp.ID("connect")),
		waitText("#status", "open"),
		waitText("#log", "← initial message: Hello"),
	)
	run(t, ctx, "send text",
		chromedp.SendKeys(chromedp.ID("message"), "hello browser"),
		chromedp.Click(chromedp.ID("send")),
		waitText("#log", "→ hello browser"),
		waitText("#log", "← hello browser"),
	)
	run(t, ctx, "send binary",
		chromedp.SendKeys(chromedp.ID("message"), "bytes"),
		chromedp.Click(chromedp.ID("sendbin")),
		waitText("#log", "← [binary 5 bytes] bytes"),
	)
	png := screenshot(t, ctx, "echo-page.png")
	if os.Getenv("NOWS_UPDATE_SCREENSHOTS") == "1" {
		dst := filepath.Join("..", "..", "docs", "img", "echo-page.png")
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", dst)
	}
	run(t, ctx, "disconnect",
		chromedp.Click(chromedp.ID("disconnect")),
		waitText("#log", "closed: code 1000"),
		waitText("#status", "closed"),
	)
	screenshot(t, ctx, "echo-page-closed.png")

	// A route that does not exist: 404 before the upgrade, so the browser
	// sees only an error and 1006.
	run(t, ctx, "connect to a missing route",
		chromedp.SetValue(chromedp.ID("route"), "/nowhere"),
		chromedp.Click(chromedp.ID("connect")),
		waitText("#log", "closed: code 1006"),
	)
	if !srv.rec.seen("GET /nowhere 404") {
		t.Errorf("server statuses %v, want GET /nowhere 404", srv.rec)
	}
}
