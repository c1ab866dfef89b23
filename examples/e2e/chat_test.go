package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	chat "github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
)

// TestChatPage drives examples/chat/static/index.html in three tabs: alice
// and bob in room lobby see each other's messages, carol in room kitchen
// sees none of them, and closing bob's tab shows alice the leave notice.
func TestChatPage(t *testing.T) {
	logger := testLogger(t)
	srv := serveExample(t, framework.Options{Logger: logger}, "../chat/static", chat.All(&chat.Deps{Logger: logger})...)

	alice := openChat(t, srv.URL, "alice", "lobby")
	bob := openChat(t, srv.URL, "bob", "lobby")
	carol := openChat(t, srv.URL, "carol", "kitchen")
	run(t, alice.ctx, "alice sees bob join", waitText("#log", "bob joined lobby"))

	run(t, alice.ctx, "alice says hello", say("hello from alice"))
	run(t, bob.ctx, "bob sees it", waitText("#log", "alice: hello from alice"))
	run(t, bob.ctx, "bob answers", say("hi alice"))
	run(t, alice.ctx, "alice sees the answer", waitText("#log", "bob: hi alice"))
	run(t, alice.ctx, "alice sees the members", waitText("#members", "In lobby: alice, bob"))

	// Carol's room is another room: she gets her own message, and none of
	// the lobby's (the hub delivers in order, so by the time her own
	// message is back, the lobby's would have been too).
	run(t, carol.ctx, "carol talks in the kitchen", say("anyone here?"), waitText("#log", "carol: anyone here?"))
	if log := textOf(t, carol.ctx, "#log"); strings.Contains(log, "alice") || strings.Contains(log, "bob") {
		t.Errorf("carol's log %q shows the lobby", log)
	}

	screenshot(t, alice.ctx, "chat-alice.png")
	screenshot(t, bob.ctx, "chat-bob.png")

	bob.close() // the browser closes the socket with 1001 going away
	run(t, alice.ctx, "alice sees bob leave",
		waitText("#log", "bob left lobby"),
		waitText("#members", "In lobby: alice"),
	)
	screenshot(t, alice.ctx, "chat-alice-after-leave.png")
}

// chatTab is one browser tab on the chat page.
type chatTab struct {
	ctx   context.Context
	close func()
}

// openChat opens the chat page in a new tab and joins room as name.
func openChat(t *testing.T, url, name, room string) chatTab {
	t.Helper()
	ctx, closeTab := newClosableTab(t)
	run(t, ctx, "open the chat page as "+name,
		chromedp.Navigate(url+"/"),
		chromedp.SetValue(chromedp.ID("room"), room),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.Click(chromedp.ID("connect")),
		waitText("#status", "Connected to room "+room+"."),
	)
	return chatTab{ctx: ctx, close: closeTab}
}

// say sends text from the page's message box.
func say(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.ID("send")),
	)
}
