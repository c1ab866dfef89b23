package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	echo "github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework"
)

// TestCrossOrigin opens a page of one origin that connects to the echo
// server on another (another port of 127.0.0.1): the default same-origin
// check refuses it with 403, and Options.AllowedOrigins lets it in.
func TestCrossOrigin(t *testing.T) {
	pages := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(pages.Close)
	pageOrigin := pages.Listener.Addr().String() // 127.0.0.1:port

	open := func(t *testing.T, srv *exampleServer) string {
		ctx := newTab(t)
		target := url.QueryEscape("ws://" + srv.Host + "/echo")
		run(t, ctx, "open the cross-origin page", chromedp.Navigate(pages.URL+"/cross-origin.html?target="+target))
		run(t, ctx, "wait for the socket to settle", waitText("#status", "settled"))
		screenshot(t, ctx, "cross-origin-"+t.Name()[len("TestCrossOrigin/"):]+".png")
		return textOf(t, ctx, "#log")
	}

	t.Run("rejected", func(t *testing.T) {
		logger := testLogger(t)
		srv := serveExample(t, framework.Options{Logger: logger}, "../echo/static", echo.All(&echo.Deps{Logger: logger})...)
		log := open(t, srv)
		if want := "error; closed 1006"; log != want {
			t.Errorf("page log %q, want %q", log, want)
		}
		if !srv.rec.seen("GET /echo 403") {
			t.Errorf("server statuses %v, want GET /echo 403", srv.rec)
		}
	})

	t.Run("allowed", func(t *testing.T) {
		logger := testLogger(t)
		opts := framework.Options{AllowedOrigins: []string{pageOrigin}, Logger: logger}
		srv := serveExample(t, opts, "../echo/static", echo.All(&echo.Deps{Logger: logger})...)
		log := open(t, srv)
		if want := "open; ← hello from another origin; closed 1000"; log != want {
			t.Errorf("page log %q, want %q", log, want)
		}
		if !srv.rec.seen("GET /echo 101") {
			t.Errorf("server statuses %v, want GET /echo 101", srv.rec)
		}
	})
}
