package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/chromedp/chromedp"
)

// The lines the tutorial's page shows when it joins a room again.
const (
	recoveredLine = "(lobby: recovered, the messages missed follow)"
	epochLine     = "(lobby: not recovered, epoch: messages were missed)"
)

// reconnectWait bounds a wait for a page to find its server again:
// nows.js's backoff doubles up to 30 s, and nows run builds the app first.
const reconnectWait = time.Minute

// checkTutorialHistory: alice's page leaves (another address in its
// tab) while bob sends two messages; opened again in the same tab, it
// says it recovered and shows them, and nothing from before.
func checkTutorialHistory(r *tutorialRun) {
	alice, bob := r.chatTab("alice", r.addr), r.chatTab("bob", r.addr)
	if alice == nil {
		return
	}
	sayOnPage(r, bob, "hello alice")
	waitLog(r, alice, "bob: hello alice", 10*time.Second)
	run(r.t, alice, "leave the page", chromedp.Navigate("about:blank"))
	sayOnPage(r, bob, "are you there?")
	sayOnPage(r, bob, "back soon?")
	openTutorialChat(r, alice, r.addr, "alice")
	waitLog(r, alice, "bob: back soon?", 10*time.Second)
	expectLog(r, alice, recoveredLine, "bob: are you there?", "bob: back soon?")
}

// checkTutorialRestarted: the server started again with an empty memory
// store, both pages say they did not recover (a new epoch).
func checkTutorialRestarted(r *tutorialRun) {
	alice, bob := r.tabs["alice"], r.tabs["bob"]
	if alice == nil {
		return
	}
	waitLog(r, alice, epochLine, reconnectWait)
	run(r.t, alice, "online again", waitText("#status", "online"))
	expectLog(r, alice, recoveredLine, "bob: are you there?", "bob: back soon?", epochLine)
	waitLog(r, bob, epochLine, reconnectWait)
	expectLog(r, bob, "bob: hello alice", "bob: are you there?", "bob: back soon?", epochLine)
}

// checkTutorialNodes: alice's page on node 1 and bob's on node 2 see
// each other's messages.
func checkTutorialNodes(r *tutorialRun) {
	alice := r.chatTab("alice", r.addrs["127.0.0.1:8765"])
	bob := r.chatTab("bob", r.addrs["127.0.0.1:8767"])
	if alice == nil {
		return
	}
	sayOnPage(r, bob, "hello from node 2")
	waitLog(r, alice, "bob: hello from node 2", 10*time.Second)
	sayOnPage(r, alice, "hi bob")
	waitLog(r, bob, "alice: hi bob", 10*time.Second)
}

// checkTutorialAway: node 1 stopped, alice's page is reconnecting while
// bob sends two messages on node 2.
func checkTutorialAway(r *tutorialRun) {
	alice, bob := r.tabs["alice"], r.tabs["bob"]
	if alice == nil {
		return
	}
	run(r.t, alice, "alice's page loses node 1", waitText("#status", "reconnecting..."))
	sayOnPage(r, bob, "are you there?")
	sayOnPage(r, bob, "back soon?")
}

// checkTutorialRecovered: node 1 back, alice's page says it recovered and
// shows bob's two messages after what it had, each once.
func checkTutorialRecovered(r *tutorialRun) {
	alice := r.tabs["alice"]
	if alice == nil {
		return
	}
	waitLog(r, alice, "bob: back soon?", reconnectWait)
	run(r.t, alice, "online again", waitText("#status", "online"))
	expectLog(r, alice, "bob: hello from node 2", "alice: hi bob", recoveredLine, "bob: are you there?", "bob: back soon?")
}

// chatTab opens the chat page of addr as user in a new tab, kept until
// the next heading, and waits until it is online; nil without a browser
// (unless CI=true), so that the rest of the page still runs.
func (r *tutorialRun) chatTab(user, addr string) context.Context {
	r.t.Helper()
	browser.once.Do(startBrowser)
	if browser.ctx == nil {
		if os.Getenv("CI") == "true" {
			r.t.Fatalf("the tutorial's browser checks must run in CI: %s", browser.reason)
		}
		r.t.Logf("SKIPPED the browser check: %s", browser.reason)
		return nil
	}
	tab, cancel := newTabWithin(r.t, 5*time.Minute)
	r.whileServing(cancel)
	r.tabs[user] = tab
	openTutorialChat(r, tab, addr, user)
	return tab
}

// openTutorialChat opens the chat page of addr in tab with user's token.
func openTutorialChat(r *tutorialRun, tab context.Context, addr, user string) {
	r.t.Helper()
	run(r.t, tab, "open the chat as "+user,
		chromedp.Navigate(fmt.Sprintf("http://%s/?token=%s-secret", addr, user)),
		waitText("#status", "online"),
	)
}

// sayOnPage sends text from the page in tab and waits until it shows it.
func sayOnPage(r *tutorialRun, tab context.Context, text string) {
	r.t.Helper()
	run(r.t, tab, "send "+text,
		chromedp.SendKeys(chromedp.CSS("#send input"), text),
		chromedp.Click(chromedp.CSS("#send button")),
	)
	waitLog(r, tab, ": "+text, 10*time.Second)
}

// pageLog returns the lines the page in tab shows, in order.
func pageLog(r *tutorialRun, tab context.Context) []string {
	r.t.Helper()
	lines, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log li")].map((li) => li.textContent)`))
	if err != nil {
		r.t.Fatalf("the page's log: %v", err)
	}
	return lines
}

// waitLog waits until a line of the page in tab ends with text.
func waitLog(r *tutorialRun, tab context.Context, text string, wait time.Duration) {
	r.t.Helper()
	x, _ := json.Marshal(text)
	_, err := chromedp.Run(tab, chromedp.Poll[bool](
		fmt.Sprintf(`[...document.querySelectorAll("#log li")].some((li) => li.textContent.endsWith(%s))`, x),
		chromedp.WithPollingTimeout(wait),
	))
	if err != nil {
		r.t.Fatalf("waiting for the page to show %q: %v; it shows %q", text, err, pageLog(r, tab))
	}
}

// expectLog checks that the page in tab shows exactly the lines want.
func expectLog(r *tutorialRun, tab context.Context, want ...string) {
	r.t.Helper()
	if got := pageLog(r, tab); !slices.Equal(got, want) {
		r.t.Errorf("the page shows %q, want %q", got, want)
	}
}
