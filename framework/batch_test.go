package framework_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// These tests cover the send queue's batches (queue.go, writeBatch): the
// messages a connection's queue holds leave in one writev, taking turns
// with the frames coder writes.

// batchRoom is the room the connections of these tests join.
const batchRoom = "batch"

// joinOnOpen makes the probe's connections join batchRoom; waitJoined
// waits for that.
func joinOnOpen(p *probe) {
	p.onOpen = func(ctx context.Context, c *framework.Conn) error { return c.Join(batchRoom) }
}

// waitJoined returns the next connection to open once it has joined
// batchRoom: the probe reports an open before it runs onOpen, so a
// broadcast right after waitOpen could miss a member still joining.
func (p *probe) waitJoined(t testing.TB) *framework.Conn {
	t.Helper()
	c := p.waitOpen(t)
	eventually(t, "the connection joined "+batchRoom, func() bool { return slices.Contains(c.Rooms(), batchRoom) })
	return c
}

// holdFirst is the first fragment holdWriter writes: larger than coder's
// write buffer, so that it reaches the wire layer at once.
var holdFirst = strings.Repeat("h", 5000)

// holdMessage is the message holdWriter's writes make.
var holdMessage = []byte(holdFirst + "hold")

// holdWriter writes the first fragment of a message through c's coder
// connection, so that the send queue's writer, which may not write a data
// frame inside it, waits until release is called, which writes the rest
// ("hold") and ends the message. Messages broadcast meanwhile pile up in
// the queue and leave as one batch.
func holdWriter(t *testing.T, c *framework.Conn) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	w, err := c.Unwrap().Writer(ctx, websocket.MessageText)
	if err != nil {
		cancel()
		t.Fatalf("Writer: %v", err)
	}
	if _, err := w.Write([]byte(holdFirst)); err != nil {
		cancel()
		t.Fatalf("write the first fragment: %v", err)
	}
	return func() {
		defer cancel()
		if _, err := w.Write([]byte("hold")); err != nil {
			t.Errorf("write hold: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("close hold writer: %v", err)
		}
	}
}

// waitPending waits until c's send queue holds n messages.
func waitPending(t *testing.T, c *framework.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(rawTimeout)
	for {
		st := framework.QueueStats(c)
		if st.Pending == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages pending: not within %v (queue %+v)", n, rawTimeout, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// batchConn opens one connection that joins batchRoom and returns its
// probe, the raw client, the server side, the hub, and a context bounded
// for the test.
func batchConn(t *testing.T) (*probe, *rawConn, *framework.Conn, *framework.Hub, context.Context) {
	t.Helper()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	joinOnOpen(p)
	client := dialRaw(t, srv.Addr, p.path("/probe"))
	t.Cleanup(func() { client.nc.Close() })
	c := p.waitJoined(t)
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	t.Cleanup(cancel)
	return p, client, c, srv.Hub(), ctx
}

// TestQueueBatchOrder: broadcasts and direct sends queued together leave
// in batches, whole and in order.
func TestQueueBatchOrder(t *testing.T) {
	t.Parallel()
	p, client, c, hub, ctx := batchConn(t)

	// The first broadcast starts the writer, which blocks behind the held
	// writer with it; the rest wait in the queue.
	release := holdWriter(t, c)
	if err := hub.Broadcast(ctx, batchRoom, framework.Text("first")); err != nil {
		t.Fatal(err)
	}
	waitPending(t, c, 0)
	var want []string
	direct := make(chan error, 10)
	pending := 0
	for round := range 10 {
		for i := range 5 {
			s := fmt.Sprintf("b%d.%d", round, i)
			if err := hub.Broadcast(ctx, batchRoom, framework.Text(s)); err != nil {
				t.Fatal(err)
			}
			want = append(want, s)
		}
		// A direct send waits behind the broadcasts queued before it.
		s := fmt.Sprintf("d%d", round)
		go func() { direct <- c.SendText(ctx, s) }()
		want = append(want, s)
		pending += 6
		waitPending(t, c, pending)
	}
	release()
	client.expectMessage(opText, holdMessage)
	client.expectMessage(opText, []byte("first"))
	for _, s := range want {
		client.expectMessage(opText, []byte(s))
	}
	for range 10 {
		if err := <-direct; err != nil {
			t.Errorf("direct send: %v", err)
		}
	}
	eventually(t, "61 messages counted as sent", func() bool { return framework.QueueStats(c).Sent == 61 })
	if st := framework.QueueStats(c); st.Batches == 0 || st.Pending != 0 || st.Dropped != 0 {
		t.Errorf("queue stats %+v: want messages sent in batches, none pending or dropped", st)
	}
	client.closeNormally()
	p.waitClose(t)
}

// TestQueueBatchCloseLast: a close queued after messages (DisconnectRoom)
// still comes after all of them, when they leave as a batch.
func TestQueueBatchCloseLast(t *testing.T) {
	t.Parallel()
	p, client, c, hub, ctx := batchConn(t)

	release := holdWriter(t, c)
	if err := hub.Broadcast(ctx, batchRoom, framework.Text("first")); err != nil {
		t.Fatal(err)
	}
	waitPending(t, c, 0)
	for i := range 40 {
		if err := hub.Broadcast(ctx, batchRoom, framework.Text(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitPending(t, c, 40)
	if err := hub.DisconnectRoom(ctx, batchRoom, 4001, "bye"); err != nil {
		t.Fatal(err)
	}
	release()
	client.expectMessage(opText, holdMessage)
	client.expectMessage(opText, []byte("first"))
	for i := range 40 {
		client.expectMessage(opText, []byte(strconv.Itoa(i)))
	}
	if reason := client.expectClose(4001); reason != "bye" {
		t.Errorf("close reason %q, want %q", reason, "bye")
	}
	if st := framework.QueueStats(c); st.Batches == 0 || st.Sent != 41 {
		t.Errorf("queue stats %+v: want 41 sent in batches", st)
	}
	st := p.waitClose(t)
	if st.Code != 4001 {
		t.Errorf("OnClose got %v, want 4001", st)
	}
}

// TestQueueBatchPongs: pings the client sends while batches are being
// written are answered, each pong a whole frame between whole data frames,
// and the data frames stay in order.
func TestQueueBatchPongs(t *testing.T) {
	t.Parallel()
	// A queue that holds the whole burst.
	srv := serve(t, framework.Options{SendQueue: framework.QueueOptions{MaxMessages: 5000, MaxBytes: 64 << 20}})
	p := newProbe(t)
	joinOnOpen(p)
	client := dialRaw(t, srv.Addr, p.path("/probe"))
	defer client.nc.Close()
	c := p.waitJoined(t)
	hub := srv.Hub()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const messages, pings = 3000, 100
	pad := strings.Repeat("x", 1000) // a batch spans several writes of maxHeldOut
	broadcast := make(chan error, 1)
	go func() {
		for i := range messages {
			if err := hub.Broadcast(ctx, batchRoom, framework.Text(strconv.Itoa(i)+" "+pad)); err != nil {
				broadcast <- err
				return
			}
		}
		broadcast <- nil
	}()
	// The client pings as it reads: a ping every messages/pings messages.
	next, pongs, sentPings := 0, 0, 0
	for next < messages || pongs < pings {
		if sentPings < pings && sentPings <= next/(messages/pings) {
			client.send(opPing, []byte("p"+strconv.Itoa(sentPings)))
			sentPings++
		}
		f, err := client.readFrame()
		if err != nil {
			t.Fatalf("after %d messages and %d pongs: %v", next, pongs, err)
		}
		switch f.op {
		case opPong:
			if want := "p" + strconv.Itoa(pongs); string(f.payload) != want {
				t.Fatalf("pong %q, want %q", f.payload, want)
			}
			pongs++
		case opText:
			if !f.fin {
				t.Fatalf("message %d: fragmented", next)
			}
			if want := strconv.Itoa(next) + " " + pad; string(f.payload) != want {
				t.Fatalf("message %.12q, want number %d", f.payload, next)
			}
			next++
		default:
			t.Fatalf("unexpected frame %#x", f.op)
		}
	}
	if err := <-broadcast; err != nil {
		t.Fatal(err)
	}
	eventually(t, "every message counted as sent", func() bool { return framework.QueueStats(c).Sent == messages })
	st := framework.QueueStats(c)
	if st.Dropped != 0 {
		t.Errorf("queue stats %+v: want none dropped", st)
	}
	t.Logf("%d messages in %d batches (and single writes), %d pongs", messages, st.Batches, pongs)
	client.closeNormally()
	p.waitClose(t)
}

// TestQueueBatchWriteTimeout: a client that stops reading while batches
// are written to it is still cut by WriteTimeout.
func TestQueueBatchWriteTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	// A queue large enough that the timeout, not the queue's policy,
	// ends the connection.
	srv := serve(t, framework.Options{WriteTimeout: timeout, SendQueue: framework.QueueOptions{MaxMessages: 1 << 16, MaxBytes: 1 << 30}})
	p := newProbe(t)
	joinOnOpen(p)
	stalled := dialRaw(t, srv.Addr, p.path("/probe"))
	defer stalled.nc.Close()
	c := p.waitJoined(t)
	hub := srv.Hub()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The messages pile up behind a held writer, then leave in batches
	// until the socket's buffers are full.
	release := holdWriter(t, c)
	msg := framework.Binary(make([]byte, 4<<10))
	for range 4000 { // 16 MiB: more than the socket buffers hold
		if err := hub.Broadcast(ctx, batchRoom, msg); err != nil {
			t.Fatal(err)
		}
	}
	release()
	st := p.waitClose(t)
	if st.Cause != framework.CauseSlow {
		t.Fatalf("OnClose got %v, want cause write timeout", st)
	}
	if hs := framework.HubStats(hub); hs.SlowClosed != 0 {
		t.Errorf("hub stats %+v: the queue overflowed, want the write timeout to end the connection", hs)
	}
	qs := framework.QueueStats(c)
	if qs.Batches == 0 {
		t.Errorf("queue stats %+v: no batch was written", qs)
	}
	if qs.Pending != 0 || qs.Queued != qs.Sent+qs.Dropped {
		t.Errorf("queue stats %+v: want queued = sent + dropped, none pending", qs)
	}
	// Direct sends fail once the connection has ended.
	if err := c.SendText(ctx, "late"); !errors.Is(err, framework.ErrClosed) {
		t.Errorf("SendText after the timeout: %v, want ErrClosed", err)
	}
}
