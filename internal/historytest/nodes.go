package historytest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
)

// Broadcast has each server's hub broadcast n texts to room at once,
// "<server>-<j>", and waits for them all.
func Broadcast(ctx context.Context, t *testing.T, room string, n int, servers ...*wstest.Server) {
	t.Helper()
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			for j := range n {
				if err := s.Hub().Broadcast(ctx, room, framework.Text(fmt.Sprintf("%d-%d", i, j))); err != nil {
					t.Errorf("Broadcast: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// ExpectStoreOrder reads the n entries of room after from in store and
// checks that plain, a plain member of room, and events, a nows.v1 one,
// get each of them next, in the store's order: plain as sent, events as
// nows.text with its position.
func ExpectStoreOrder(ctx context.Context, t *testing.T, store history.Store, lim history.Limits, room string, from history.Position, n int, plain, events *wstest.Client) {
	t.Helper()
	r, err := store.Since(ctx, room, from, n, lim)
	if err != nil || len(r.Entries) != n {
		t.Fatalf("the store has %d entries after %v, %v; want %d", len(r.Entries), from, err, n)
	}
	for _, e := range r.Entries {
		plain.ExpectText(string(e.Data))
		events.ExpectText(fmt.Sprintf(`{"event":"nows.text","data":%q,"room":%q,"pos":{"epoch":%q,"offset":%d}}`, e.Data, room, e.Pos.Epoch, e.Pos.Offset))
	}
}
