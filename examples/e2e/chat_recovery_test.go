package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	chat "github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/nowebsocket/nows/internal/cutproxy"
	"github.com/nowebsocket/nows/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// recoveryMessages is how many numbered messages the Publisher sends, one
// every recoveryEvery (about 200/s).
const (
	recoveryMessages = 1000
	recoveryEvery    = 5 * time.Millisecond
)

// TestChatPageRecovery runs the chat's real binary with its history on a
// real redis-server, behind a loopback proxy, and opens its page in the
// lobby through the proxy. A Publisher in the test writes 1..1000 to the
// same history at about 200/s; meanwhile the proxy cuts the page's
// connection (the page sees 1006), the chat is killed with SIGKILL and
// started again on the same address, and the proxy cuts it once more.
// The page ends with messages 1..1000 exactly once, in order, and said it
// recovered.
func TestChatPageRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chat app and redis-server")
	}
	rs := redistest.Start(t)
	bin := buildExample(t, "../chat")
	addr := freeAddr(t)
	histFlag := []string{"--history", rs.URL()}
	node := startApp(t, bin, addr, histFlag...)
	proxy := cutproxy.Start(t, addr)

	ctx, _ := newTabWithin(t, 3*time.Minute)
	defer func() {
		if t.Failed() { // what the page showed, in order
			lines, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log > div")].map((d) => d.textContent)`))
			t.Logf("the page's log (%v): %q", err, lines)
		}
	}()
	run(t, ctx, "open the chat page through the proxy",
		chromedp.Navigate("http://"+proxy.Addr()+"/"),
		chromedp.SetValue(chromedp.ID("room"), "lobby"),
		chromedp.SendKeys(chromedp.ID("name"), "reader"),
		chromedp.Click(chromedp.ID("connect")),
		waitText("#status", "Connected to room lobby."),
	)

	var sent atomic.Int64
	var pubErr error
	pubCtx, stopPub := context.WithCancel(ctx)
	published := make(chan struct{})
	go func() { defer close(published); pubErr = publishNumbered(pubCtx, rs.Addr(), &sent) }()
	defer func() { stopPub(); <-published }()

	// Each disruption waits for its message and for the page to be
	// connected, so that it has a connection to lose.
	for _, d := range []struct {
		at   int64
		what string
	}{{100, "cut"}, {300, "kill"}, {600, "cut"}} {
		waitUntil(t, ctx, fmt.Sprintf("message %d published", d.at), func() bool { return sent.Load() >= d.at })
		before := waitConnected(t, ctx)
		switch d.what {
		case "cut":
			if n := proxy.Cut(); n == 0 {
				t.Fatal("the proxy had no connection to cut")
			}
		case "kill":
			node.kill(t)
			node = startApp(t, bin, addr, histFlag...)
		}
		t.Logf("%s after message %d", d.what, sent.Load())
		waitUntil(t, ctx, "the page to see 1006", func() bool { return readRecoveryPage(t, ctx).Lost1006 > before.Lost1006 })
	}
	select {
	case <-published:
		if pubErr != nil {
			t.Fatalf("publisher: %v", pubErr)
		}
	case <-ctx.Done():
		t.Fatal("the publisher did not finish")
	}

	last := fmt.Sprintf("publisher: %d", recoveryMessages)
	waitUntil(t, ctx, "the page to show "+last, func() bool {
		msgs := readRecoveryPage(t, ctx).Msgs
		return len(msgs) > 0 && slices.Contains(msgs, last)
	})
	p := readRecoveryPage(t, ctx)
	checkNumbered(t, p.Msgs)
	if p.Recovered == 0 || p.Lost1006 < 3 || len(p.Unrecovered) > 0 {
		t.Errorf("the page said %d times it recovered (want some), lost its connection with 1006 %d times (want 3), and %q",
			p.Recovered, p.Lost1006, p.Unrecovered)
	}
	screenshot(t, ctx, "chat-recovery.png")
	// The last reconnect in view: the notices, then the missed messages.
	run(t, ctx, "scroll to the last recovery", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#log .notice")]
		.filter((d) => d.textContent.includes("recovered: the messages missed follow")).pop()
		.scrollIntoView({ block: "center" }), {}`))
	screenshot(t, ctx, "chat-recovery-seam.png")
}

// publishNumbered writes "publisher: 1" to "publisher: 1000" to the
// lobby's history in redis, as another node of the chat would: a
// Publisher hub, with the chat's window.
func publishNumbered(ctx context.Context, redisAddr string, sent *atomic.Int64) error {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	pub := framework.NewHub(framework.HubOptions{History: history.Config{
		Store: redishistory.New(rdb, redishistory.Options{}),
		Rooms: chat.HistoryRooms(),
	}})
	defer pub.Close()
	tick := time.NewTicker(recoveryEvery)
	defer tick.Stop()
	for i := 1; i <= recoveryMessages; i++ {
		m, err := framework.JSON(chat.Event{Type: "message", Room: "lobby", Name: "publisher", Text: strconv.Itoa(i)})
		if err == nil {
			err = pub.Broadcast(ctx, "lobby", m)
		}
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		sent.Store(int64(i))
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// checkNumbered fails t unless the page's messages are the publisher's
// 1..recoveryMessages, each once, in order.
func checkNumbered(t *testing.T, msgs []string) {
	t.Helper()
	var nums []int
	for _, m := range msgs {
		if s, ok := strings.CutPrefix(m, "publisher: "); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("message %q is not numbered", m)
			}
			nums = append(nums, n)
		}
	}
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("the page shows %d numbered messages; the %dth is %d, want %d (around it: %v)",
				len(nums), i+1, n, i+1, nums[max(0, i-5):min(len(nums), i+5)])
		}
	}
	if len(nums) != recoveryMessages {
		t.Fatalf("the page shows %d numbered messages, want %d", len(nums), recoveryMessages)
	}
}

// recoveryPage is what the chat page shows: its status, the numbered
// messages' lines, and its notices about the connection.
type recoveryPage struct {
	Status      string   `json:"status"`
	Msgs        []string `json:"msgs"`
	Lost1006    int      `json:"lost1006"`    // "connection lost (1006)…"
	Recovered   int      `json:"recovered"`   // "… recovered: the messages missed follow"
	Unrecovered []string `json:"unrecovered"` // "… not recovered (…)…"
}

const readRecoveryPageJS = `(() => {
  const notes = [...document.querySelectorAll("#log .notice")].map((d) => d.textContent);
  return {
    status: document.getElementById("status").textContent,
    msgs: [...document.querySelectorAll("#log .msg")].map((d) => d.textContent),
    lost1006: notes.filter((n) => n.startsWith("connection lost (1006")).length,
    recovered: notes.filter((n) => n.includes("recovered: the messages missed follow")).length,
    unrecovered: notes.filter((n) => n.includes("not recovered")),
  };
})()`

func readRecoveryPage(t *testing.T, ctx context.Context) recoveryPage {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[recoveryPage](readRecoveryPageJS))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return p
}

// waitConnected waits until the page is connected and returns it then.
func waitConnected(t *testing.T, ctx context.Context) recoveryPage {
	t.Helper()
	var p recoveryPage
	waitUntil(t, ctx, "the page to be connected", func() bool {
		p = readRecoveryPage(t, ctx)
		return p.Status == "Connected to room lobby."
	})
	return p
}

// waitUntil polls cond for up to a minute, and fails t if it never holds.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill ends the app with SIGKILL, as a crash would: no close frames, no
// leave notices.
func (a *app) kill(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
}

// TestChatPageReload: the page keeps its positions in sessionStorage, so
// a reload recovers too: what a plain member said while the page was
// reloading and not yet joined again shows once it joins, after the
// notice that it recovered, and nothing it had seen before comes again.
func TestChatPageReload(t *testing.T) {
	logger := testLogger(t)
	opts := framework.Options{Logger: logger, Hub: framework.HubOptions{
		History: history.Config{Store: history.NewMemory(), Rooms: chat.HistoryRooms()},
	}}
	srv := serveExample(t, opts, "../chat/static", chat.All(&chat.Deps{Logger: logger})...)
	reader := openChat(t, srv.URL, "reader", "lobby")
	writer := dialPlain(t, "ws://"+srv.Host+"/chat/room/lobby?name=writer")
	readPlain(t, writer, chat.Event{Type: "join", Room: "lobby", Name: "writer"})
	// until reads the writer's events until one matches.
	until := func(what string, match func(chat.Event) bool) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for {
			var ev chat.Event
			_, b, err := writer.Read(ctx)
			if err == nil {
				err = json.Unmarshal(b, &ev)
			}
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if match(ev) {
				return
			}
		}
	}
	// say sends text as the writer, and waits until it is back: it is in
	// the room's history then.
	say := func(text string) {
		if err := writer.Write(t.Context(), websocket.MessageText, []byte(text)); err != nil {
			t.Fatal(err)
		}
		until(text, func(ev chat.Event) bool { return ev.Type == "message" && ev.Text == text })
	}
	say("before")
	run(t, reader.ctx, "the page sees it", waitText("#log", "writer: before"))

	run(t, reader.ctx, "reload", chromedp.Reload(), waitText("#status", "Not connected."))
	until("reader's leave notice", func(ev chat.Event) bool { return ev.Type == "leave" && ev.Name == "reader" })
	say("while away 1")
	say("while away 2")
	name, err := chromedp.Run(reader.ctx, chromedp.Value(chromedp.ID("name")))
	if err != nil {
		t.Fatal(err)
	}
	run(t, reader.ctx, "join again",
		chromedp.Click(chromedp.ID("connect")),
		waitText("#log", "writer: while away 2"),
	)
	if name != "reader" {
		t.Errorf("after the reload the form has the name %q, want reader", name)
	}
	lines, err := chromedp.Run(reader.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log > div")].map((d) => d.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"recovered: the messages missed follow", "reader left lobby", "writer: while away 1", "writer: while away 2"}
	if !slices.Equal(lines, want) {
		t.Errorf("after the reload the page shows %q, want %q", lines, want)
	}
	screenshot(t, reader.ctx, "chat-reload.png")
}
