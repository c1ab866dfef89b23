package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testDeps are the Deps main would make, with the handlers' logs in t.Log.
func testDeps(t *testing.T) *blueprints.Deps {
	return &blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
}

func readEvent(t *testing.T, c *wstest.Client) blueprints.Event {
	t.Helper()
	var ev blueprints.Event
	c.ReadJSON(&ev)
	return ev
}

// twoNodes serves the chat on two nodes that share an in-memory broker
// and an in-memory history with the chat's window, as main does with
// --broker and --history redis://.
func twoNodes(t *testing.T) (n1, n2 *wstest.Server) {
	opts := framework.Options{Hub: framework.HubOptions{
		Broker:  framework.NewMemoryBroker(),
		History: history.Config{Store: history.NewMemory(), Rooms: blueprints.HistoryRooms()},
	}}
	n1 = wstest.NewServerOptions(t, opts, blueprints.All(testDeps(t))...)
	n2 = wstest.NewServerOptions(t, opts, blueprints.All(testDeps(t))...)
	return n1, n2
}

// oneNode serves the chat alone, with the history main gives it by
// default.
func oneNode(t *testing.T) *wstest.Server {
	opts := framework.Options{Hub: framework.HubOptions{
		History: history.Config{Store: history.NewMemory(), Rooms: blueprints.HistoryRooms()},
	}}
	return wstest.NewServerOptions(t, opts, blueprints.All(testDeps(t))...)
}

func expectEvent(t *testing.T, c *wstest.Client, want blueprints.Event) {
	t.Helper()
	matchEvent(t, readEvent(t, c), want)
}

// matchEvent fails t unless got is want (Members compared when want has
// them).
func matchEvent(t *testing.T, got, want blueprints.Event) {
	t.Helper()
	if got.Type != want.Type || got.Room != want.Room || got.Name != want.Name || got.Text != want.Text ||
		want.Members != nil && !slices.Equal(got.Members, want.Members) {
		t.Fatalf("got event %+v, want %+v", got, want)
	}
}

// TestChat: two nodes share a broker; a message reaches every member of its
// room on both nodes, as sent, and no other room.
func TestChat(t *testing.T) {
	n1, n2 := twoNodes(t)

	ann := n1.Dial(t, "/chat/room/tea?name=ann")
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "tea", Name: "ann", Members: []string{"ann"}})
	other := n2.Dial(t, "/chat/room/coffee?name=olga")
	expectEvent(t, other, blueprints.Event{Type: "join", Room: "coffee", Name: "olga"})

	// Wait until node 2 sees ann, so that bob's join lists both.
	for !slices.Contains(memberNames(n2.Hub().Members("tea")), "ann") {
		ann.SendText("ping")
		expectEvent(t, ann, blueprints.Event{Type: "message", Room: "tea", Name: "ann", Text: "ping"})
	}
	bob := n2.Dial(t, "/chat/room/tea?name=bob")
	expectEvent(t, bob, blueprints.Event{Type: "join", Room: "tea", Name: "bob", Members: []string{"ann", "bob"}})
	expectEvent(t, ann, blueprints.Event{Type: "join", Room: "tea", Name: "bob"})

	text := `hello "world" <b>ünïcode</b> 👋`
	bob.SendText(text)
	for _, c := range []*wstest.Client{ann, bob} {
		expectEvent(t, c, blueprints.Event{Type: "message", Room: "tea", Name: "bob", Text: text})
	}
	other.SendText("just me")
	expectEvent(t, other, blueprints.Event{Type: "message", Room: "coffee", Name: "olga", Text: "just me"})

	bob.Close()
	expectEvent(t, ann, blueprints.Event{Type: "leave", Room: "tea", Name: "bob", Members: []string{"ann"}})
}

func memberNames(ms []framework.Member) []string {
	var names []string
	for _, m := range ms {
		names = append(names, m.User)
	}
	return names
}

func TestNickname(t *testing.T) {
	srv := wstest.NewServer(t, blueprints.All(testDeps(t))...)
	c := srv.Dial(t, "/chat/room/r")
	ev := readEvent(t, c)
	if !strings.HasPrefix(ev.Name, "guest-") {
		t.Errorf("got name %q without ?name=, want guest-...", ev.Name)
	}
	long := srv.Dial(t, "/chat/room/r?name="+strings.Repeat("é", 40))
	var got blueprints.Event
	long.ReadJSON(&got)
	if n := len([]rune(got.Name)); n != 32 {
		b, _ := json.Marshal(got)
		t.Errorf("got a name of %d characters (%s), want 32", n, b)
	}
}

// TestBrokerFlag: --broker wins over NOWS_BROKER, which is the default;
// --history and NOWS_HISTORY likewise.
func TestBrokerFlag(t *testing.T) {
	t.Setenv("NOWS_BROKER", "nats://env:4222")
	t.Setenv("NOWS_HISTORY", "redis://env:6379")
	for _, tc := range []struct {
		args                []string
		wantBroker, wantHis string
	}{
		{nil, "nats://env:4222", "redis://env:6379"},
		{[]string{"--broker", "redis://flag:6379", "--history", "off"}, "redis://flag:6379", "off"},
		{[]string{"--broker", "", "--history", ""}, "", ""},
	} {
		d := testDeps(t)
		fs := flag.NewFlagSet("chat", flag.ContinueOnError)
		d.BindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if d.Broker != tc.wantBroker || d.History != tc.wantHis {
			t.Errorf("%q: got broker %q, history %q, want %q, %q", tc.args, d.Broker, d.History, tc.wantBroker, tc.wantHis)
		}
	}
}

// TestNewHistory: what each --history gives, with and without a broker.
func TestNewHistory(t *testing.T) {
	js := startJetStream(t)
	for _, tc := range []struct {
		url, broker string
		want        string // the store's type; "" for history off
		wantErr     bool
	}{
		{"", "", "*history.Memory", false},
		{"memory", "", "*history.Memory", false},
		{"", "nats://127.0.0.1:4222", "", false}, // each node's memory would be its own
		{"memory", "nats://127.0.0.1:4222", "", true},
		{"off", "", "", false},
		{"redis://127.0.0.1:1", "", "*redishistory.Store", false}, // connects lazily
		{"redis://127.0.0.1:notaport/x/y", "", "", true},
		{"nats://127.0.0.1:1", "", "", true}, // no server there
		{js, "", "*natshistory.Store", false},
		{js, js, "*natshistory.Store", false},
		{"memroy", "", "", true},
	} {
		cfg, closer, err := newHistory(tc.url, tc.broker, 512<<10)
		if (err != nil) != tc.wantErr {
			t.Errorf("newHistory(%q, %q): got error %v, want error %v", tc.url, tc.broker, err, tc.wantErr)
		}
		got := ""
		if cfg.Store != nil {
			got = fmt.Sprintf("%T", cfg.Store)
			if l, ok := cfg.Limits("any room"); !ok || l != blueprints.HistoryRooms()["*"] {
				t.Errorf("newHistory(%q): every room's window is %+v (%v), want %+v", tc.url, l, ok, blueprints.HistoryRooms()["*"])
			}
		}
		if got != tc.want {
			t.Errorf("newHistory(%q, %q): got store %q, want %q", tc.url, tc.broker, got, tc.want)
		}
		if closer != nil {
			_ = closer.Close()
		}
	}
}

func TestNewBroker(t *testing.T) {
	tests := []struct {
		url     string
		wantNil bool
		wantErr bool
	}{
		{"", true, false},
		{"http://x", true, true},
		{"redis://127.0.0.1:1", false, false}, // connects lazily
	}
	for _, tc := range tests {
		b, closer, err := newBroker(tc.url)
		if (err != nil) != tc.wantErr {
			t.Errorf("newBroker(%q): got error %v, want error %v", tc.url, err, tc.wantErr)
		}
		if (b == nil) != tc.wantNil {
			t.Errorf("newBroker(%q): got broker %v, want nil %v", tc.url, b, tc.wantNil)
		}
		if closer != nil {
			_ = closer.Close()
		}
	}
	// serve stops at a bad URL, before it listens.
	var opts framework.Options
	if err := serve(opts, admin.New(&opts), &blueprints.Deps{Broker: "http://x"}); err == nil {
		t.Error("serve with --broker http://x: got no error")
	}
}
