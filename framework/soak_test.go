package framework_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// This file holds the soak test of docs/reliability.md. Clients connect,
// exchange echoes, broadcast to a room of listeners, and disconnect (half
// cleanly, half abruptly) and reconnect, over and over; at the end every
// echo and every broadcast is accounted for, every OnClose ran once, and no
// goroutine or descriptor is left. make test runs it for 10 s with 100
// clients; NOWS_SOAK=1 (make soak) runs 2,000 clients for
// NOWS_SOAK_DURATION (default 5m).

// soakConfig returns how long the soak runs, with how many clients and
// listeners.
func soakConfig(t *testing.T) (d time.Duration, clients, listeners int) {
	if os.Getenv("NOWS_SOAK") != "1" {
		return 10 * time.Second, 100, 10
	}
	d = 5 * time.Minute
	if v := os.Getenv("NOWS_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("NOWS_SOAK_DURATION=%q: %v", v, err)
		}
	}
	return d, 2000, 50
}

const soakRoom = "soak"

var soakOpened, soakClosed, soakDouble atomic.Int64

// soakHandler echoes, broadcasts "b:..." messages to the room (answering
// "ok" once the broadcast is queued for every member), and puts the
// connections with ?listen=1 in the room.
type soakHandler struct{ closed bool }

func (soakHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	soakOpened.Add(1)
	if c.Request().URL.Query().Get("listen") != "" {
		return c.Join(soakRoom)
	}
	return nil
}

func (soakHandler) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if payload, ok := strings.CutPrefix(text, "b:"); ok {
		if err := c.Hub().Broadcast(ctx, soakRoom, framework.Text(payload)); err != nil {
			return err
		}
		return c.SendText(ctx, "ok")
	}
	return c.SendText(ctx, text)
}

func (h *soakHandler) OnClose(c *framework.Conn, st framework.CloseStatus) {
	if h.closed {
		soakDouble.Add(1)
	}
	h.closed = true
	soakClosed.Add(1)
}

var soakBP = framework.NewBlueprint("", framework.Route[soakHandler]("/soak"))

// soakListener counts the broadcasts it receives and checks that each
// sender's arrive once and in order.
type soakListener struct {
	ws    *websocket.Conn
	count atomic.Int64
	err   error
	done  chan struct{}
}

func (l *soakListener) run() {
	defer close(l.done)
	last := make(map[string]int)
	for {
		_, b, err := l.ws.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure && websocket.CloseStatus(err) != websocket.StatusGoingAway {
				l.err = err
			}
			return
		}
		sender, seqText, _ := strings.Cut(string(b), "-")
		seq, _ := strconv.Atoi(seqText)
		if prev, ok := last[sender]; ok && seq <= prev {
			l.err = fmt.Errorf("broadcast %s after %s-%d: duplicate or out of order", b, sender, prev)
			return
		}
		last[sender] = seq
		l.count.Add(1)
	}
}

func TestSoak(t *testing.T) {
	d, clients, listeners := soakConfig(t)
	if lim := raiseFileLimit(t); lim < uint64(2*(clients+listeners))+500 {
		t.Skipf("RLIMIT_NOFILE is %d: too low for %d clients", lim, clients)
	}
	checkLeaks(t)
	soakOpened.Store(0)
	soakClosed.Store(0)
	soakDouble.Store(0)
	srv := serve(t, quietOptions(framework.Options{
		SendQueue: framework.QueueOptions{Policy: framework.QueueBlock, MaxMessages: 4096, BlockTimeout: 5 * time.Second},
	}), soakBP)
	url := "ws://" + srv.Addr + "/soak"
	dialCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 4*rawTimeout)
	}

	ls := make([]*soakListener, listeners)
	for i := range ls {
		ctx, cancel := dialCtx()
		ws, _, err := websocket.Dial(ctx, url+"?listen=1", nil)
		cancel()
		if err != nil {
			t.Fatalf("listener %d: %v", i, err)
		}
		ls[i] = &soakListener{ws: ws, done: make(chan struct{})}
		go ls[i].run()
	}
	eventually(t, "listeners in the room", func() bool { return len(srv.Hub().LocalMembers(soakRoom)) == listeners })

	var sent, echoed, broadcasts, conns atomic.Int64
	errs := make(chan error, clients)
	deadline := time.Now().Add(d)
	heap := watchHeap()
	var wg sync.WaitGroup
	for id := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(id), 1))
			seq := 0
			for n := 0; time.Now().Before(deadline); n++ {
				if err := soakSession(url, id, &seq, 5+rng.IntN(45), n%2 == 0, &sent, &echoed, &broadcasts); err != nil {
					errs <- fmt.Errorf("client %d, session %d: %w", id, n, err)
					return
				}
				conns.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	growth := heap.peakGrowth()
	total := broadcasts.Load()
	within(t, time.Minute, "every broadcast delivered", func() bool {
		for _, l := range ls {
			if l.count.Load() < total {
				return false
			}
		}
		return true
	})
	for i, l := range ls {
		_ = l.ws.Close(websocket.StatusNormalClosure, "")
		<-l.done
		if l.err != nil {
			t.Errorf("listener %d: %v", i, l.err)
		}
		if got := l.count.Load(); got != total {
			t.Errorf("listener %d got %d broadcasts, want %d", i, got, total)
		}
	}
	if s, e := sent.Load(), echoed.Load(); s != e {
		t.Errorf("clients sent %d messages and got %d echoes", s, e)
	}
	within(t, time.Minute, "every connection closed", func() bool { return soakOpened.Load() == soakClosed.Load() })
	if n := soakDouble.Load(); n != 0 {
		t.Errorf("OnClose ran twice for %d connections", n)
	}
	t.Logf("soak %v: %d clients made %d connections, %d echoes, %d broadcasts × %d listeners, all delivered; peak heap growth %s, VmHWM %s",
		d, clients, conns.Load(), echoed.Load(), total, listeners, mib(growth), mib(procStatus("VmHWM")))
}

// soakSession connects, exchanges rounds messages (every tenth a
// broadcast), and disconnects, cleanly or not.
func soakSession(url string, id int, seq *int, rounds int, clean bool, sent, echoed, broadcasts *atomic.Int64) error {
	// Generous: the soak accounts for messages; it does not time them,
	// and CI machines are busy.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	for r := range rounds {
		msg, want := fmt.Sprintf("echo %d %d", id, r), ""
		if r%10 == 9 {
			*seq++
			msg, want = fmt.Sprintf("b:%d-%d", id, *seq), "ok"
		} else {
			want = msg
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		sent.Add(1)
		_, got, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if string(got) != want {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		echoed.Add(1)
		if want == "ok" {
			broadcasts.Add(1)
		}
	}
	if clean {
		return ws.Close(websocket.StatusNormalClosure, "")
	}
	return nil // CloseNow: the socket just goes
}
