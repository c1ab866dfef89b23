package redishistory_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
	"github.com/nowebsocket/nows/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// proxy forwards TCP connections to Redis; freeze makes the connections
// open so far go silent without closing, as a peer lost in the network
// does, while new ones work.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []*proxyConn
	cut    bool // the next reply from Redis is dropped with its connection
	wg     sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	p              *proxy
	mu             sync.Mutex
	frozen         bool
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.client.Close()
			_ = c.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, p: p}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Go(func() { c.pipe(server, client, false) })
		p.wg.Go(func() { c.pipe(client, server, true) })
	}
}

// pipe copies from src to dst until either closes; once frozen, it
// reads and drops. A reply (fromServer) read while the proxy's cut is
// set closes the connection instead, and clears the cut.
func (c *proxyConn) pipe(dst, src net.Conn, fromServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		c.mu.Lock()
		frozen := c.frozen
		c.mu.Unlock()
		if n > 0 && fromServer && c.p.takeCut() {
			_ = dst.Close()
			_ = src.Close()
			return
		}
		if n > 0 && !frozen {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			return
		}
	}
}

func (p *proxy) takeCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := p.cut
	p.cut = false
	return cut
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.mu.Lock()
		c.frozen = true
		c.mu.Unlock()
	}
}

// TestStall: the feed's connection goes silent without an error; Watch
// pings, gets no answer, subscribes again on a new connection and reports
// Lost, and entries appended after it arrive.
func TestStall(t *testing.T) {
	rs := redistest.Start(t)
	px := startProxy(t, rs.Addr())
	via := redis.NewClient(&redis.Options{Addr: px.ln.Addr().String(), DialTimeout: time.Second})
	t.Cleanup(func() { _ = via.Close() })
	s := redishistory.New(via, redishistory.Options{})
	redishistory.SetHealth(s, 100*time.Millisecond, 500*time.Millisecond)
	direct := redishistory.New(client(t, rs), redishistory.Options{})
	f := watch(t, s, nil)
	time.Sleep(300 * time.Millisecond) // pings answered: no stall while healthy
	if n := f.lost(); n != 1 {
		t.Fatalf("%d Lost on a healthy feed; want only the first", n)
	}
	px.freeze()
	if _, err := direct.Append(t.Context(), "r", history.Entry{Data: []byte("unseen")}, lim); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "a Lost after the stall", func([]history.Update) bool { return f.lost() >= 2 })
	if n := len(f.entries("r")); n != 0 {
		t.Fatalf("%d entries through a frozen connection; want 0", n)
	}
	e, err := direct.Append(t.Context(), "r", history.Entry{Data: []byte("seen")}, lim)
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "the entry after the stall", func([]history.Update) bool { return len(f.entries("r")) == 1 })
	if got := f.entries("r")[0]; got.Pos != e.Pos {
		t.Fatalf("entry after the stall at %v; want %v", got.Pos, e.Pos)
	}
}

// TestForeignMessage: a message on the feed's channel that the store did
// not write is reported as Lost, not taken for an entry.
func TestForeignMessage(t *testing.T) {
	rs := redistest.Start(t)
	rdb := client(t, rs)
	f := watch(t, redishistory.New(rdb, redishistory.Options{}), nil)
	for _, junk := range []string{"", "hello", "3:abc", "1:r24:aaaaaaaaaaaaaaaaaaaaaaaa0:1:01:11:0", "9999:x"} {
		if err := rdb.Publish(t.Context(), "nows:h:feed", junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	f.waitFor(t, "5 updates after the first", func(us []history.Update) bool { return len(us) >= 6 })
	for i, u := range f.snapshot() {
		if !u.Lost {
			t.Errorf("update %d is %+v; want Lost", i, u)
		}
	}
}

// TestMetaExpiry: a room silent for Limits.Meta loses its epoch, as the
// memory store forgets it: a position of it says ReasonEpoch.
func TestMetaExpiry(t *testing.T) {
	rs := redistest.Start(t)
	s := redishistory.New(client(t, rs), redishistory.Options{})
	short := history.Limits{Size: 10, TTL: 100 * time.Millisecond, Meta: 300 * time.Millisecond}
	e, err := s.Append(t.Context(), "m", history.Entry{Data: []byte("x")}, short)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // past the TTL, within Meta
	if r, _ := s.Since(t.Context(), "m", e.Pos, 10, short); r.Reason != "" || r.Top != e.Pos {
		t.Fatalf("Since(top) within Meta = %+v; want recovered at %v", r, e.Pos)
	}
	time.Sleep(300 * time.Millisecond)
	r, err := s.Since(t.Context(), "m", e.Pos, 10, short)
	if err != nil || r.Reason != history.ReasonEpoch || r.Top.Offset != 0 || r.Top.Epoch <= e.Pos.Epoch {
		t.Fatalf("Since(top) after Meta = %+v, %v; want epoch, a newer epoch at 0", r, err)
	}
}

// TestWatchClosedClient: Watch on a closed client returns an error at
// once instead of retrying forever.
func TestWatchClosedClient(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	_ = rdb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := redishistory.New(rdb, redishistory.Options{}).Watch(ctx, func(history.Update) {}); err == nil || ctx.Err() != nil {
		t.Fatalf("Watch on a closed client: %v after %v; want an error at once", err, ctx.Err())
	}
}

// TestAppendOnce: an Append whose reply is lost (the connection drops
// after Redis ran the script) is not sent again: go-redis retries such a
// command by default, which would store the message twice.
func TestAppendOnce(t *testing.T) {
	rs := redistest.Start(t)
	px := startProxy(t, rs.Addr())
	via := redis.NewClient(&redis.Options{Addr: px.ln.Addr().String(), DialTimeout: time.Second})
	t.Cleanup(func() { _ = via.Close() })
	s := redishistory.New(via, redishistory.Options{})
	// The first loads the script: its NOSCRIPT reply is not the one cut.
	if _, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("1")}, lim); err != nil {
		t.Fatal(err)
	}
	px.mu.Lock()
	px.cut = true
	px.mu.Unlock()
	if _, err := s.Append(t.Context(), "r", history.Entry{Data: []byte("2")}, lim); err == nil {
		t.Error("Append whose reply was lost: nil error; want one (the caller cannot know it was stored)")
	}
	r, err := redishistory.New(client(t, rs), redishistory.Options{}).Since(t.Context(), "r", history.Position{}, 0, lim)
	if err != nil || r.Top.Offset != 2 {
		t.Fatalf("the room's top after an Append whose reply was lost: %v, %v; want offset 2 (stored once)", r.Top, err)
	}
}
