package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/wstest"
	"github.com/nowebsocket/nows/internal/wire"
)

// historyServer serves the Room at /room with history on for "lobby",
// a window of size messages.
func historyServer(t *testing.T, size int, store history.Store) (*wstest.Server, history.Store) {
	t.Helper()
	if store == nil {
		store = history.NewMemory()
	}
	opts := framework.Options{SendQueue: framework.QueueOptions{MaxMessages: 4096}, Hub: framework.HubOptions{History: history.Config{
		Store: store,
		Rooms: map[string]history.Limits{"lobby": {Size: size, TTL: time.Hour}},
	}}}
	return wstest.NewServerOptions(t, opts, framework.NewBlueprint("", roomRoute("/room", nil))), store
}

// TestJoinSince: joins of a room with history, with and without a
// position, byte for byte: the reply's pos, recovered and reason, the
// missed messages after it, then the live ones, nows.pos for the sender
// left out; a since that is not a position is a bad payload.
func TestJoinSince(t *testing.T) {
	srv, store := historyServer(t, 3, nil)
	top, err := store.Since(context.Background(), "lobby", history.Position{}, 0, history.Limits{Size: 3, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ep := top.Top.Epoch
	at := func(n int) string { return fmt.Sprintf(`{"epoch":%q,"offset":%d}`, ep, n) }
	msg := func(text string, n int) string {
		return `{"event":"chat.message","data":{"text":"` + text + `"},"room":"lobby","pos":` + at(n) + `}`
	}

	a := dial(t, srv, "/room")
	exchange(t, a, `{"event":"nows.join","id":1,"data":{"room":"lobby"}}`, `{"reply":1,"data":{"room":"lobby","pos":`+at(0)+`}}`)
	for i := 1; i <= 3; i++ {
		exchange(t, a, `{"event":"shout","data":{"text":"m`+strconv.Itoa(i)+`"}}`, msg("m"+strconv.Itoa(i), i))
	}

	b := dial(t, srv, "/room")
	exchange(t, b, `{"event":"nows.join","id":1,"data":{"room":"lobby","since":`+at(1)+`}}`,
		`{"reply":1,"data":{"room":"lobby","pos":`+at(3)+`,"recovered":true}}`)
	b.ExpectText(msg("m2", 2))
	b.ExpectText(msg("m3", 3))
	a.SendText(`{"event":"shout","data":{"text":"m4"}}`)
	a.ExpectText(msg("m4", 4))
	b.ExpectText(msg("m4", 4))

	// Out of the window (3 messages: 2..4), another epoch.
	c := dial(t, srv, "/room")
	exchange(t, c, `{"event":"nows.join","id":2,"data":{"room":"lobby","since":`+at(0)+`}}`,
		`{"reply":2,"data":{"room":"lobby","pos":`+at(4)+`,"recovered":false,"reason":"too_old"}}`)
	d := dial(t, srv, "/room")
	exchange(t, d, `{"event":"nows.join","id":3,"data":{"room":"lobby","since":{"epoch":"0","offset":9}}}`,
		`{"reply":3,"data":{"room":"lobby","pos":`+at(4)+`,"recovered":false,"reason":"epoch"}}`)

	// BroadcastOthers: the sender gets the position alone.
	b.SendText(`{"event":"whisper","data":{"text":"m5"}}`)
	b.ExpectText(`{"event":"nows.pos","room":"lobby","pos":` + at(5) + `}`)
	for _, x := range []*wstest.Client{a, c, d} {
		x.ExpectText(msg("m5", 5))
	}

	exchange(t, d, `{"event":"nows.join","id":4,"data":{"room":"lobby","since":{"epoch":"e"}}}`,
		`{"reply":4,"error":{"code":"bad_payload","message":"data.since: want an object with a string epoch and an integer offset from 0 to 2^53-1","event":"nows.join","field":"since"}}`)
	// A room without history ignores since.
	exchange(t, d, `{"event":"nows.join","id":5,"data":{"room":"hall","since":`+at(1)+`}}`, `{"reply":5,"data":{"room":"hall"}}`)
}

// slowReads is a memory store whose reads take 3 ms.
type slowReads struct{ *history.Memory }

func (s slowReads) Since(ctx context.Context, room string, since history.Position, limit int, lim history.Limits) (history.Result, error) {
	time.Sleep(3 * time.Millisecond)
	return s.Memory.Since(ctx, room, since, limit, lim)
}

// TestJoinSinceSeam: members join with a position while a publisher
// sends; each gets every message after its position exactly once, in
// order, across the seam between what it recovered and the live stream.
func TestJoinSinceSeam(t *testing.T) {
	const n = 600
	// Reads take 3 ms, as over a network: messages arrive during them.
	srv, store := historyServer(t, 10*n, slowReads{history.NewMemory()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := dial(t, srv, "/room") // the room is followed before the publisher starts
	first.SendText(`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`)
	first.ReadText()
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := srv.Hub().Broadcast(ctx, "lobby", framework.Text(strconv.Itoa(i))); err != nil {
				done <- err
				return
			}
			if i%5 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		done <- nil
	}()
	lim := history.Limits{Size: 10 * n, TTL: time.Hour}
	type member struct {
		c     *wstest.Client
		since history.Position
	}
	var members []member
	for k := range 8 {
		time.Sleep(10 * time.Millisecond)
		r, err := store.Since(ctx, "lobby", history.Position{}, 0, lim)
		if err != nil {
			t.Fatal(err)
		}
		since := r.Top
		if since.Offset > 20 && k%2 == 0 {
			since.Offset -= 20 // some missed, some live
		}
		c := dial(t, srv, "/room")
		c.SendText(fmt.Sprintf(`{"event":"nows.join","id":1,"data":{"room":"lobby","since":{"epoch":%q,"offset":%d}}}`, since.Epoch, since.Offset))
		members = append(members, member{c, since})
	}
	seams := 0
	for k, m := range members {
		env, err := wire.Decode([]byte(m.c.ReadText()))
		if err != nil || env.Reply != 1 {
			t.Fatalf("join reply: %+v %v", env, err)
		}
		var j wire.Joined
		if err := json.Unmarshal(env.Data, &j); err != nil || j.Recovered == nil || !*j.Recovered || j.Pos == nil {
			t.Fatalf("join reply %s: %v", env.Data, err)
		}
		if j.Pos.Offset < n {
			seams++ // joined while the publisher was sending
		}
		next := m.since.Offset + 1
		for next <= n {
			env, err := wire.Decode([]byte(m.c.ReadText()))
			if err != nil || env.Event != wire.EventText || env.Pos == nil {
				t.Fatalf("member %d: got %+v, %v", k, env, err)
			}
			if env.Pos.Offset != next || string(env.Data) != strconv.Quote(strconv.FormatUint(next, 10)) {
				t.Fatalf("member %d (since %d): got offset %d data %s, want %d", k, m.since.Offset, env.Pos.Offset, env.Data, next)
			}
			next++
		}
		m.c.Close()
	}
	t.Logf("%d of %d members joined while the publisher was sending", seams, len(members))
	if seams < 2 {
		t.Errorf("only %d members joined during the publishing: the seam was hardly tested", seams)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// heldFeed is a memory store whose feed waits until let go: entries
// appended meanwhile (by another node, say) reach this node late, after a
// joining member's read has got them.
type heldFeed struct {
	*history.Memory
	gate chan struct{} // closed: the feed flows
}

func (s heldFeed) Watch(ctx context.Context, fn func(history.Update)) error {
	return s.Memory.Watch(ctx, func(u history.Update) {
		if !u.Lost {
			select {
			case <-s.gate:
			case <-ctx.Done():
				return
			}
		}
		fn(u)
	})
}

// TestJoinSinceAheadOfFeed: a member whose read went further than the
// node's feed has come stays recovering until the node gets there; the
// entry that makes it live is not sent to it a second time.
func TestJoinSinceAheadOfFeed(t *testing.T) {
	store := heldFeed{history.NewMemory(), make(chan struct{})}
	srv, _ := historyServer(t, 10, store)
	lim := history.Limits{Size: 10, TTL: time.Hour}
	a := dial(t, srv, "/room")
	a.SendText(`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`)
	a.ReadText()
	r, err := store.Since(context.Background(), "lobby", history.Position{}, 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	at := func(n int) string { return fmt.Sprintf(`{"epoch":%q,"offset":%d}`, r.Top.Epoch, n) }
	text := func(n int) string {
		return fmt.Sprintf(`{"event":"nows.text","data":"m%d","room":"lobby","pos":%s}`, n, at(n))
	}
	for i := 1; i <= 2; i++ { // another node's: this one learns of them from the feed
		if _, err := store.Append(context.Background(), "lobby", history.Entry{Data: []byte("m" + strconv.Itoa(i))}, lim); err != nil {
			t.Fatal(err)
		}
	}
	b := dial(t, srv, "/room")
	exchange(t, b, `{"event":"nows.join","id":1,"data":{"room":"lobby","since":`+at(0)+`}}`,
		`{"reply":1,"data":{"room":"lobby","pos":`+at(2)+`,"recovered":true}}`)
	b.ExpectText(text(1))
	b.ExpectText(text(2))
	close(store.gate)
	a.ExpectText(text(1))
	a.ExpectText(text(2))
	if err := srv.Hub().Broadcast(context.Background(), "lobby", framework.Text("m3")); err != nil {
		t.Fatal(err)
	}
	a.ExpectText(text(3))
	b.ExpectText(text(3))
}
