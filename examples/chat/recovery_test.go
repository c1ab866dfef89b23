package main

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/examples/chat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/cutproxy"
)

// TestClientRecoversAcrossRestart: a framework/client member of the
// lobby, through a proxy, while a Publisher sends numbered messages. The
// server shuts down after 100; 101..200 are sent while no server is up
// (into the history only); a new server on the same history takes over
// behind the proxy and 201..300 follow. The client gets 1..300 once each,
// in order, and is told it recovered: 101..200 can only come from its
// join with a position.
func TestClientRecoversAcrossRestart(t *testing.T) {
	cfg := history.Config{Store: history.NewMemory(), Rooms: blueprints.HistoryRooms()}
	opts := framework.Options{Hub: framework.HubOptions{History: cfg}}
	srv1 := wstest.NewServerOptions(t, opts, blueprints.All(testDeps(t))...)
	proxy := cutproxy.Start(t, srv1.Addr)

	c := client.New("ws://"+proxy.Addr()+"/chat/room/lobby?name=go", &client.Options{
		MinDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond, Logger: testDeps(t).Logger,
	})
	t.Cleanup(func() { _ = c.Close() })
	got := collect(c)
	var mu sync.Mutex
	var recov []client.Recovery
	c.OnRecovery(func(r client.Recovery) { mu.Lock(); recov = append(recov, r); mu.Unlock() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}

	pub := framework.NewHub(framework.HubOptions{History: cfg})
	defer pub.Close()
	publish(ctx, t, pub, 1, 100)
	waitFor(ctx, t, "messages 1..100", func() bool { return len(got()) >= 100 })
	if err := srv1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	publish(ctx, t, pub, 101, 200)
	srv2 := wstest.NewServerOptions(t, opts, blueprints.All(testDeps(t))...)
	proxy.SetTarget(srv2.Addr)
	publish(ctx, t, pub, 201, 300)
	waitFor(ctx, t, "message 300", func() bool { g := got(); return len(g) > 0 && g[len(g)-1] == 300 })

	want := make([]int, 300)
	for i := range want {
		want[i] = i + 1
	}
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("got %d messages %v, want 1..300 once each, in order", len(g), g)
	}
	mu.Lock()
	defer mu.Unlock()
	if w := []client.Recovery{{Room: "lobby"}, {Room: "lobby", Recovered: true}}; !slices.Equal(recov, w) {
		t.Errorf("recoveries %+v, want %+v", recov, w)
	}
}

// publish sends the messages from..to of "publisher" to the lobby.
func publish(ctx context.Context, t *testing.T, pub *framework.Hub, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		m, err := framework.JSON(blueprints.Event{Type: "message", Room: "lobby", Name: "publisher", Text: strconv.Itoa(i)})
		if err == nil {
			err = pub.Broadcast(ctx, "lobby", m)
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// collect returns the numbers of the publisher's messages c gets, as
// they come.
func collect(c *client.Client) func() []int {
	var mu sync.Mutex
	var nums []int
	c.On("message", func(data json.RawMessage) {
		var text string
		var ev blueprints.Event
		if json.Unmarshal(data, &text) != nil || json.Unmarshal([]byte(text), &ev) != nil || ev.Name != "publisher" {
			return
		}
		n, err := strconv.Atoi(ev.Text)
		if err != nil {
			n = -1
		}
		mu.Lock()
		nums = append(nums, n)
		mu.Unlock()
	})
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(nums)
	}
}

// waitFor polls cond until it holds, failing t when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
