package redishistory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/historytest"
	"github.com/nowebsocket/nows/internal/redistest"
)

// hubNode is a server with history on for "h.*" in a Store of its own
// on rs, and no broker: the store's feed is its only link to the others.
func hubNode(t *testing.T, rs *redistest.Server) (*wstest.Server, *redishistory.Store) {
	t.Helper()
	store := redishistory.New(client(t, rs), redishistory.Options{})
	opts := framework.Options{
		Subprotocols: []string{"nows.v1"},
		SendQueue:    framework.QueueOptions{MaxMessages: 4000},
		Hub: framework.HubOptions{History: history.Config{
			Store: store,
			Rooms: map[string]history.Limits{"h.*": lim},
		}},
	}
	return wstest.NewServerOptions(t, opts, brokertest.Rooms), store
}

// member dials /rooms/room on s, as a nows.v1 member or a plain one.
func member(t *testing.T, s *wstest.Server, room string, events bool) *wstest.Client {
	t.Helper()
	var opts *websocket.DialOptions
	if events {
		opts = &websocket.DialOptions{Subprotocols: []string{"nows.v1"}}
	}
	c, _, err := s.DialOptions(t, "/rooms/"+room, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.ReadText() // the greeting
	return c
}

// TestHubTwoNodes: two servers with a Store each on one Redis and no
// broker; concurrent broadcasts on both reach a plain member of one and
// a nows.v1 member of the other once each, in the store's order. Then
// redis-server restarts empty: the nows.v1 member is told the room's
// history was lost (nows.unrecovered, epoch), and the broadcasts after
// it reach both members from offset 1 of the new epoch.
func TestHubTwoNodes(t *testing.T) {
	rs := redistest.Start(t)
	a, storeA := hubNode(t, rs)
	b, _ := hubNode(t, rs)
	plain := member(t, a, "h.r", false)
	ev := member(t, b, "h.r", true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 200
	historytest.Broadcast(ctx, t, "h.r", n, a, b)
	top, err := storeA.Since(ctx, "h.r", history.Position{}, 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	historytest.ExpectStoreOrder(ctx, t, storeA, lim, "h.r", history.Position{Epoch: top.Top.Epoch}, 2*n, plain, ev)

	rs.Stop()
	rs.Restart(t)
	var lost struct {
		Event string
		Data  struct {
			Room, Reason string
			Pos          history.Position
		}
	}
	ev.ReadJSON(&lost)
	if lost.Event != "nows.unrecovered" || lost.Data.Room != "h.r" || lost.Data.Reason != "epoch" || lost.Data.Pos.Epoch <= top.Top.Epoch {
		t.Fatalf("after the restart, the nows.v1 member got %+v; want nows.unrecovered, epoch, a newer epoch than %s", lost, top.Top.Epoch)
	}
	// The hubs may still be reconnecting: retry the first broadcast.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := a.Hub().Broadcast(ctx, "h.r", framework.Text("after"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Broadcast after the restart: %v", err)
		}
	}
	plain.ExpectText("after")
	ev.ExpectText(fmt.Sprintf(`{"event":"nows.text","data":"after","room":"h.r","pos":{"epoch":%q,"offset":1}}`, lost.Data.Pos.Epoch))
}
