package natshistory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/natshistory"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/historytest"
)

// TestHub: two servers, each with a Store of its own on one stream and
// no broker, broadcast to one room at once; a member on each gets every
// message once, in the stream's order, the events member with the
// stream's positions.
func TestHub(t *testing.T) {
	ns := startJS(t, 4<<20)
	o := options()
	o.Window = history.Limits{Size: 1000, TTL: time.Hour}
	var servers []*wstest.Server
	var stores []*natshistory.Store
	for range 2 {
		st := open(t, connect(t, ns), o)
		stores = append(stores, st)
		servers = append(servers, wstest.NewServerOptions(t, framework.Options{
			Subprotocols: []string{"nows.v1"},
			SendQueue:    framework.QueueOptions{MaxMessages: 4000},
			Hub: framework.HubOptions{History: history.Config{
				Store: st,
				Rooms: map[string]history.Limits{"h.*": o.Window},
			}},
		}, brokertest.Rooms))
	}
	start, err := stores[0].Since(t.Context(), "h.r", history.Position{}, 0, o.Window)
	if err != nil {
		t.Fatal(err)
	}
	plain := member(t, servers[0], nil)
	events := member(t, servers[1], []string{"nows.v1"})

	const n = 150
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	historytest.Broadcast(ctx, t, "h.r", n, servers...)
	historytest.ExpectStoreOrder(ctx, t, stores[1], o.Window, "h.r", start.Top, 2*n, plain, events)
}

// member dials /rooms/h.r with the subprotocols and reads the greeting.
func member(t *testing.T, s *wstest.Server, protos []string) *wstest.Client {
	t.Helper()
	c, _, err := s.DialOptions(t, "/rooms/h.r", &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if !strings.HasPrefix(c.ReadText(), "joined ") {
		t.Fatal("no greeting")
	}
	return c
}
