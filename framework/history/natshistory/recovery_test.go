package natshistory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/internal/cutproxy"
)

const (
	recoveryMessages = 1000
	recoveryRate     = 200              // messages a second, about
	recoveryWait     = 60 * time.Second // bounds each wait of the test
)

// TestRecovery is issue 15's end-to-end test over JetStream: a Go client
// joins a room with history on a node (a process of its own, on the
// test's JetStream server) through a loopback proxy; a Publisher sends
// 1,000 numbered messages at about 200/s; meanwhile the proxy cuts the
// client's connection twice (no close frame: 1006) and the node is killed
// with SIGKILL and started again once. The client ends with messages
// 1..1000 exactly once, in order, and was told it recovered.
func TestRecovery(t *testing.T) {
	ns := startJS(t, 4<<20)
	o := options()
	o.Window = recoveryWindow
	url := ns.URL()
	nd := startNode(t, url, o)
	proxy := cutproxy.Start(t, nd.addr)
	pub := framework.NewHub(framework.HubOptions{History: recoveryHistory(open(t, connect(t, ns), o))})
	t.Cleanup(func() { pub.Close() })
	rec := recordClient(t, "ws://"+proxy.Addr()+"/ev")

	var sent atomic.Int64
	pubErr := publish(t, pub, &sent)
	after := func(n int64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("message %d sent", n), func() bool { return sent.Load() >= n })
	}
	for i, at := range []int64{150, 350} {
		after(at)
		rec.drop(t, fmt.Sprintf("cut %d", i+1), func() {
			if n := proxy.Cut(); n != 1 {
				t.Fatalf("cut %d: %d connections through the proxy, want the client's", i+1, n)
			}
		})
	}
	after(550)
	rec.drop(t, "SIGKILL", func() { nd.kill(t) })
	after(650) // messages pile up while no node runs
	nd = startNode(t, url, o)
	proxy.SetTarget(nd.addr)
	waitFor(t, "the client connected to the new node", rec.connected)

	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last message", func() bool { return slices.Contains(rec.numbers(), recoveryMessages) })
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	got := rec.numbers()
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("message %d is %d (%d messages: %v)", i+1, v, len(got), got)
		}
	}
	if len(got) != recoveryMessages {
		t.Errorf("%d messages, want %d", len(got), recoveryMessages)
	}
	rec.checkRecoveries(t, 3)
}

// publish sends the numbered messages 1..recoveryMessages to the room
// through pub at about recoveryRate, counting them in sent; the channel
// gets its error, or nil, once done. The test's end stops it.
func publish(t *testing.T, pub *framework.Hub, sent *atomic.Int64) <-chan error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*recoveryWait)
	res := make(chan error, 1)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / recoveryRate)
		defer tick.Stop()
		for i := 1; i <= recoveryMessages; i++ {
			select {
			case <-tick.C:
			case <-ctx.Done():
				res <- fmt.Errorf("publisher stopped at message %d: %w", i, ctx.Err())
				return
			}
			if err := events.Broadcast(ctx, pub, recoveryRoom, "n", i); err != nil {
				res <- fmt.Errorf("Broadcast of message %d: %w", i, err)
				return
			}
			sent.Store(int64(i))
		}
		res <- nil
	}()
	return res
}

// recorder is what a client of the room was told: its numbered messages,
// its recoveries and its states, each in order.
type recorder struct {
	mu     sync.Mutex
	nums   []int
	recov  []client.Recovery
	states []client.State
	drops  []error // the errors of the Disconnected states
}

// recordClient connects a client to url through its own handlers and
// joins the room; the test's end closes it.
func recordClient(t *testing.T, url string) *recorder {
	t.Helper()
	r := &recorder{}
	c := client.New(url, &client.Options{MinDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond,
		Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	c.On("n", func(data json.RawMessage) {
		var n int
		if err := json.Unmarshal(data, &n); err != nil {
			n = -1 // not a number: fails the order check
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.nums = append(r.nums, n)
	})
	c.OnRecovery(func(rc client.Recovery) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.recov = append(r.recov, rc)
	})
	c.OnState(func(s client.State, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.states = append(r.states, s)
		if s == client.Disconnected {
			r.drops = append(r.drops, err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), recoveryWait)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, recoveryRoom); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recorder) numbers() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.nums)
}

// connected reports whether the client's last state is Connected: it is
// in the room again.
func (r *recorder) connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states) > 0 && r.states[len(r.states)-1] == client.Connected
}

func (r *recorder) dropped() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.drops)
}

// waitFor waits up to recoveryWait for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(recoveryWait); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, recoveryWait)
		}
	}
}

// drop runs cut while the client is connected, and checks that the client
// lost its connection as a browser reports 1006: without a close frame.
func (r *recorder) drop(t *testing.T, what string, cut func()) {
	t.Helper()
	waitFor(t, "connection before the "+what, r.connected)
	before := len(r.dropped())
	cut()
	waitFor(t, "disconnection after the "+what, func() bool { return len(r.dropped()) > before })
	err := r.dropped()[before]
	if code := websocket.CloseStatus(err); err == nil || code != -1 {
		t.Fatalf("after the %s the client saw %v (close code %d), want a connection lost without a close frame", what, err, code)
	}
	t.Logf("%s: the client saw %v", what, err)
}

// checkRecoveries checks what OnRecovery was told: the first join had
// nothing to recover from, then at least rejoins joins again, each
// recovered.
func (r *recorder) checkRecoveries(t *testing.T, rejoins int) {
	t.Helper()
	r.mu.Lock()
	got := slices.Clone(r.recov)
	r.mu.Unlock()
	ok := client.Recovery{Room: recoveryRoom, Recovered: true}
	if len(got) < 1+rejoins || got[0] != (client.Recovery{Room: recoveryRoom}) {
		t.Fatalf("recoveries %+v, want the first join's and at least %d recovered", got, rejoins)
	}
	for i, rc := range got[1:] {
		if rc != ok {
			t.Errorf("recovery %d is %+v, want %+v", i+2, rc, ok)
		}
	}
}
