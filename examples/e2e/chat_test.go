package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	chat "github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
)

// TestChatPage drives examples/chat/static/index.html, which speaks nows.v1
// through /_nows/nows.js, in three tabs: alice and bob in room lobby see
// each other's messages (sent as acknowledged chat.send requests), a plain
// WebSocket client in the lobby sees them as the JSON it always got and
// its text reaches the pages, carol in room kitchen sees none of them, and
// closing bob's tab shows alice the leave notice.
func TestChatPage(t *testing.T) {
	logger := testLogger(t)
	srv := serveExample(t, framework.Options{Logger: logger}, "../chat/static", chat.All(&chat.Deps{Logger: logger})...)

	alice := openChat(t, srv.URL, "alice", "lobby")
	bob := openChat(t, srv.URL, "bob", "lobby")
	carol := openChat(t, srv.URL, "carol", "kitchen")
	run(t, alice.ctx, "alice sees bob join", waitText("#log", "bob joined lobby"))

	run(t, alice.ctx, "alice says hello", say("hello from alice"), waitText("#sent", "Sent 1 message to lobby."))
	run(t, bob.ctx, "bob sees it", waitText("#log", "alice: hello from alice"))
	run(t, bob.ctx, "bob answers", say("hi alice"))
	run(t, alice.ctx, "alice sees the answer", waitText("#log", "bob: hi alice"))
	run(t, alice.ctx, "alice sees the members", waitText("#members", "In lobby: alice, bob"))

	// A plain WebSocket client in the same room: the pages' messages reach
	// it as the JSON plain clients always got, and its text reaches them.
	plain := dialPlain(t, "ws://"+srv.Host+"/chat/room/lobby?name=plain")
	readPlain(t, plain, chat.Event{Type: "join", Room: "lobby", Name: "plain"})
	run(t, alice.ctx, "alice says hello to plain", say("hello plain"))
	readPlain(t, plain, chat.Event{Type: "message", Room: "lobby", Name: "alice", Text: "hello plain"})
	if err := plain.Write(t.Context(), websocket.MessageText, []byte("hi from plain")); err != nil {
		t.Fatal(err)
	}
	run(t, bob.ctx, "bob sees the plain client", waitText("#log", "plain: hi from plain"))
	run(t, alice.ctx, "alice sees the plain client", waitText("#log", "plain: hi from plain"))
	_ = plain.Close(websocket.StatusNormalClosure, "")
	run(t, alice.ctx, "alice sees plain leave", waitText("#log", "plain left lobby"))

	// An empty message is refused by the server (SendMsg.Validate), and
	// the page says so.
	run(t, alice.ctx, "alice sends blanks", say("   "), waitText("#log", "not sent (invalid): text is empty"))

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

// dialPlain connects a plain WebSocket client (no subprotocol) to url.
func dialPlain(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// readPlain reads a plain client's next message: want, as JSON (Members
// is not compared).
func readPlain(t *testing.T, c *websocket.Conn, want chat.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got chat.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("plain client got %q: %v", b, err)
	}
	got.Members = nil
	if got.Type != want.Type || got.Room != want.Room || got.Name != want.Name || got.Text != want.Text {
		t.Fatalf("plain client got %s, want %+v", b, want)
	}
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
