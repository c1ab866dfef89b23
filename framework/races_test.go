package framework_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/broker/brokertest"
	"github.com/nowebsocket/nows/framework/wstest"
)

// This file holds tests of concurrency bugs: the byte limit tripping
// while the read loop checks the message limit, and a slow log handler
// stalling fan-out.

// raceBP serves the fault handler with a send queue of two messages.
var raceBP = framework.NewBlueprint("/races",
	framework.Route[faultHandler]("/small").WithQueue(framework.QueueOptions{MaxMessages: 2}),
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
	for _, room := range c.Query()["room"] {
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
