package framework_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/wstest"
)

// This file holds the tests of three concurrency bugs: the byte limit
// tripping while the read loop checks the message limit, a slow log
// handler stalling fan-out, and a send that timed out behind queued
// broadcasts being written anyway.

// raceBP serves the fault handler with a send queue of two messages, and
// with one that holds a message larger than the sockets can buffer.
var raceBP = framework.NewBlueprint("/races",
	framework.Route[faultHandler]("/small").WithQueue(framework.QueueOptions{MaxMessages: 2}),
	framework.Route[faultHandler]("/big").WithQueue(framework.QueueOptions{MaxBytes: 64 << 20}),
)

// stallSize is larger than what the sockets of a client that reads nothing
// can hold (dialSlow's 4 KiB receive buffer, a send buffer of at most
// tcp_wmem's 4 MiB by default): a write of that many bytes blocks until
// the client reads.
const stallSize = 16 << 20

// racePath returns the path of route (under raceBP) that selects f, with
// extra query parameters.
func racePath(route string, f *faults, query ...string) string {
	return strings.Replace(f.path(query...), "/fault", route, 1)
}

// joinRooms is an OnOpen for faults: it joins the rooms named by the query
// parameters "room", then greets as brokertest.RoomHandler does.
func joinRooms(ctx context.Context, c *framework.Conn) error {
	for _, room := range c.Request().URL.Query()["room"] {
		if err := c.Join(room); err != nil {
			return err
		}
	}
	return c.SendText(ctx, "joined "+c.ID())
}

// TestRaceByteLimitDuringMessageCheck: with MessageRate and ByteRate, the
// read loop checks the message limit after coder has released its read
// lock; a Close on another goroutine then reads the rest of the stream
// (coder's close handshake), and the byte limit trips there. Run with
// -race.
func TestRaceByteLimitDuringMessageCheck(t *testing.T) {
	t.Parallel()
	f := newFaults(t)
	// 1 byte/s: the burst is all there is. The read buffer is 1 KiB, so
	// the read loop's own read (the frame header) stays within the burst
	// and the close handshake's reads of the payload exceed it.
	srv := serve(t, quietOptions(framework.Options{MessageRate: 1000, ByteRate: 1, ByteBurst: 2048}), faultBP)
	for i := range 5 {
		c := dialRaw(t, srv.Addr, f.path())
		conn := f.waitOpen(t)
		// A pong proves that the read loop is in coder's Reader, holding
		// its read lock: the close handshake below waits for it.
		c.send(opPing, []byte("p"))
		if fr, err := c.readFrame(); err != nil || fr.op != opPong {
			t.Fatalf("round %d: got frame op %d, err %v, want the pong", i, fr.op, err)
		}
		closed := make(chan error, 1)
		go func() { closed <- conn.Close(4000, "bye") }()
		for {
			fr, err := c.readFrame()
			if err != nil {
				t.Fatalf("round %d: got %v, want the close frame", i, err)
			}
			if fr.op == opClose {
				break
			}
		}
		// One message over the burst: its header goes to the read loop,
		// its payload to the close handshake waiting for the lock.
		c.send(opBinary, make([]byte, 8192))
		c.expectEOF()
		if st := f.waitClose(t); st.Code != 4000 || st.Cause != framework.CauseClosed {
			t.Fatalf("round %d: OnClose got %v, want 4000 from Close", i, st)
		}
		if err := <-closed; err != nil {
			t.Fatalf("round %d: Close: %v", i, err)
		}
	}
}

// blockingHandler is a slog.Handler that blocks on the records whose
// message contains match until unblock is called.
type blockingHandler struct {
	match   string
	entered chan struct{} // closed by the first matching record
	release chan struct{}
	once    sync.Once
	undo    sync.Once
}

func newBlockingHandler(match string) *blockingHandler {
	return &blockingHandler{match: match, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *blockingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *blockingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.once.Do(func() { close(h.entered) })
		<-h.release
	}
	return nil
}

func (h *blockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *blockingHandler) WithGroup(string) slog.Handler      { return h }

func (h *blockingHandler) unblock() { h.undo.Do(func() { close(h.release) }) }

// TestRaceSlowLoggerDoesNotStallFanOut: while the log handler blocks on
// the line that reports a slow client closed for a full send queue, the
// other members get the broadcast that overflowed it, a broadcast to
// another room (the slow client in it too) is delivered, and a new
// connection can join a room and receive.
func TestRaceSlowLoggerDoesNotStallFanOut(t *testing.T) {
	t.Parallel()
	h := newBlockingHandler("send queue full")
	srv := wstest.NewServerOptions(t, framework.Options{Logger: slog.New(h), WriteTimeout: time.Minute}, faultBP, raceBP)
	t.Cleanup(h.unblock) // before the server shuts down
	f := newFaults(t)
	f.open = joinRooms
	hub := srv.Hub()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	fast := brokertest.Dial(t, srv.URL(f.path("room=r", "room=r2")))
	dialSlow(t, srv.URL(racePath("/races/small", f, "room=r", "room=r2", "room=stall")))
	// The slow client's queue writer blocks in this message for good.
	if err := hub.Broadcast(ctx, "stall", framework.Binary(make([]byte, stallSize))); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	var current atomic.Int64
	var broadcastErr error // read once broadcaster is closed
	broadcaster := make(chan struct{})
	go func() {
		defer close(broadcaster)
		for i := range 100 {
			current.Store(int64(i))
			if broadcastErr = hub.Broadcast(ctx, "r", framework.Text("m"+strconv.Itoa(i))); broadcastErr != nil {
				return
			}
			select {
			case <-h.entered:
				return
			default:
			}
		}
	}()
	select {
	case <-h.entered:
	case <-broadcaster:
		t.Fatalf("the slow client's queue of two never overflowed (Broadcast: %v)", broadcastErr)
	case <-time.After(rawTimeout):
		t.Fatalf("no overflow logged within %v", rawTimeout)
	}
	last := int(current.Load()) // the broadcast blocked in the log handler

	returned := make(chan error, 1)
	go func() { returned <- hub.Broadcast(ctx, "r2", framework.Text("to r2")) }()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Broadcast to r2: %v", err)
		}
	case <-time.After(rawTimeout):
		t.Fatalf("a Broadcast to another room did not return within %v while the log handler blocked", rawTimeout)
	}
	for i := 0; i <= last; i++ {
		fast.Expect("m" + strconv.Itoa(i))
	}
	fast.Expect("to r2")

	late := brokertest.Dial(t, srv.URL(f.path("room=r3"))) // Join takes the hub's write lock
	if err := hub.Broadcast(ctx, "r3", framework.Text("to r3")); err != nil {
		t.Fatalf("Broadcast to r3: %v", err)
	}
	late.Expect("to r3")

	h.unblock()
	select {
	case <-broadcaster:
	case <-time.After(rawTimeout):
		t.Fatalf("the broadcast that overflowed did not return within %v of the log handler", rawTimeout)
	}
}

// readWS reads the next message of a coder client within rawTimeout.
func readWS(t *testing.T, ws *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("client read: %v", err)
	}
	return typ, b
}

// expectWS fails the test unless the next message is typ with payload want.
func expectWS(t *testing.T, ws *websocket.Conn, typ websocket.MessageType, want []byte) {
	t.Helper()
	gotTyp, got := readWS(t, ws)
	if gotTyp != typ || !bytes.Equal(got, want) {
		t.Fatalf("client got %v %s, want %v %s", gotTyp, clip(got), typ, clip(want))
	}
}

// TestRaceSendTimesOutBehindBroadcasts: a send whose ctx ends while it
// waits behind queued broadcasts returns the ctx's error and is never
// written; the broadcasts before it are, in order, and the connection
// stays open.
func TestRaceSendTimesOutBehindBroadcasts(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServerOptions(t, quietOptions(framework.Options{WriteTimeout: time.Minute}), faultBP, raceBP)
	f := newFaults(t)
	f.open = joinRooms
	client := dialSlow(t, srv.URL(racePath("/races/big", f, "room=q")))
	conn := f.waitOpen(t)
	hub := srv.Hub()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stall := bytes.Repeat([]byte("0123456789abcdef"), stallSize/16)
	if err := hub.Broadcast(ctx, "q", framework.Binary(stall)); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	for i := range 5 {
		if err := hub.Broadcast(ctx, "q", framework.Text("b"+strconv.Itoa(i))); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
	}
	sctx, scancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := conn.SendText(sctx, "timed out")
	scancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendText behind a stalled queue: got %v, want context.DeadlineExceeded", err)
	}
	if err := hub.Broadcast(ctx, "q", framework.Text("after")); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}

	expectWS(t, client, websocket.MessageBinary, stall)
	for i := range 5 {
		expectWS(t, client, websocket.MessageText, []byte("b"+strconv.Itoa(i)))
	}
	if _, got := readWS(t, client); string(got) != "after" {
		t.Fatalf("after the broadcasts the client got %s, want \"after\" (the send that timed out must not be written)", clip(got))
	}
	if err := conn.SendText(ctx, "direct"); err != nil {
		t.Fatalf("SendText after the queue drained: %v", err)
	}
	expectWS(t, client, websocket.MessageText, []byte("direct"))
}

// TestRaceSendCancelledWhileWritten: a send whose ctx ends once the queue's
// writer has taken it reports what became of it: nil when it was written,
// the ctx's error only when it was not.
func TestRaceSendCancelledWhileWritten(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServerOptions(t, quietOptions(framework.Options{WriteTimeout: time.Minute}), faultBP, raceBP)
	f := newFaults(t)
	f.open = joinRooms
	client := dialSlow(t, srv.URL(racePath("/races/big", f, "room=q")))
	conn := f.waitOpen(t)
	hub := srv.Hub()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stall := bytes.Repeat([]byte("stall..."), stallSize/8)
	direct := bytes.Repeat([]byte("direct.."), stallSize/8)
	if err := hub.Broadcast(ctx, "q", framework.Binary(stall)); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	type read struct {
		typ  websocket.MessageType
		data []byte
		err  error
	}
	reads := make(chan read, 3)
	go func() {
		// Read the broadcast ahead of the send, then cancel the send: the
		// writer has finished the broadcast by then and has (almost
		// always) taken the send. Either way, SendBinary must tell.
		for i := range 3 {
			rctx, rcancel := context.WithTimeout(ctx, rawTimeout)
			typ, b, err := client.Read(rctx)
			rcancel()
			reads <- read{typ, b, err}
			if err != nil {
				return
			}
			if i == 0 {
				scancel()
			}
		}
	}()
	err := conn.SendBinary(sctx, direct) // queued behind the stalled broadcast
	if err := hub.Broadcast(ctx, "q", framework.Text("after")); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	next := func() read {
		select {
		case r := <-reads:
			if r.err != nil {
				t.Fatalf("client read: %v", r.err)
			}
			return r
		case <-time.After(2 * rawTimeout):
			t.Fatalf("client read nothing within %v", 2*rawTimeout)
			return read{}
		}
	}
	if r := next(); r.typ != websocket.MessageBinary || !bytes.Equal(r.data, stall) {
		t.Fatalf("client got %v %s, want the stalled broadcast", r.typ, clip(r.data))
	}
	r := next()
	written := r.typ == websocket.MessageBinary && bytes.Equal(r.data, direct)
	switch {
	case written && err != nil:
		t.Fatalf("SendBinary returned %v, but its message was written", err)
	case !written && err == nil:
		t.Fatalf("SendBinary returned nil, but the client got %s next", clip(r.data))
	case !written && !errors.Is(err, context.Canceled):
		t.Fatalf("SendBinary returned %v, want context.Canceled for a message not written", err)
	}
	t.Logf("written while cancelled: %v (SendBinary: %v)", written, err)
	if written {
		r = next()
	}
	if string(r.data) != "after" {
		t.Fatalf("client got %s, want \"after\"", clip(r.data))
	}
}
