package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	echo "github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
	"github.com/nowebsocket/nows/framework/wstest"
)

// TestDashboardLive opens the dashboard of the real admin listener of the
// echo example while a client echoes messages: the counts of connections
// and messages must show the load and move while it runs, and the page
// must log no error.
func TestDashboardLive(t *testing.T) {
	logger := testLogger(t)
	opts := framework.Options{Logger: logger}
	adm := admin.New(&opts)
	adm.Addr = "127.0.0.1:0"
	srv := wstest.NewServerOptions(t, opts, echo.All(&echo.Deps{Logger: logger})...)
	stop, err := adm.Start(srv.Server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	// The load: one client echoing as fast as it can until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ws := srv.Dial(t, "/echo").Conn()
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if ws.Write(ctx, websocket.MessageText, []byte("load")) != nil {
				return
			}
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })

	tab := newTab(t)
	console := watchConsole(t, tab)
	run(t, tab, "open the dashboard",
		chromedp.EmulateViewport(1280, 1440),
		chromedp.Navigate("http://"+adm.Addr+"/"),
		waitJS("the first rates", `Number(document.getElementById("msgs-in").dataset.value) > 0`),
	)
	a := readDashboard(t, tab)
	run(t, tab, "let the load run", chromedp.Sleep(2*time.Second))
	b := readDashboard(t, tab)
	if n, _ := strconv.Atoi(b.Connections); n < 1 {
		t.Errorf("connections %q, want the client's", b.Connections)
	}
	if a.MsgsInTotal == b.MsgsInTotal {
		t.Errorf("total messages in stayed %q over 2 s of load", a.MsgsInTotal)
	}
	if b.MsgsInRate <= 0 {
		t.Errorf("messages in per second %v under load, want more than 0", b.MsgsInRate)
	}
	if !hasRow(b.Routes, "/echo") {
		t.Errorf("route table %q, want /echo among the routes", b.Routes)
	}
	screenshot(t, tab, "dashboard-live.png")
	for _, m := range console.errors(false) {
		t.Errorf("console: %s", m)
	}
}

// hasRow reports whether a row starts with prefix and a tab.
func hasRow(rows []string, prefix string) bool {
	for _, r := range rows {
		if strings.HasPrefix(r, prefix+"\t") {
			return true
		}
	}
	return false
}
