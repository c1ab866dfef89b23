package redishistory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/redis/go-redis/v9"
)

// The feed's health: after pingAfter without a word from Redis, Watch
// pings it; after stallAfter, it takes the connection for dead (a peer
// gone without a reset sends no error) and subscribes again. A Store's
// own values differ in tests only.
const (
	pingAfter  = 2 * time.Second
	stallAfter = 10 * time.Second
	backoffMax = time.Second // the longest wait before subscribing again
)

// errStalled ends a session that the watchdog closed: Receive then
// fails with redis.ErrClosed, which would end Watch.
var errStalled = errors.New("no reply to pings")

// Watch implements history.Store: it subscribes to the feed's channel
// and reports Lost each time Redis confirms the subscription, the first
// time and after every reconnect, since pub/sub drops what is published
// while a subscriber is away. While Redis is unreachable it tries again,
// waiting up to a second between tries; it returns when ctx ends, or
// with an error once the client is closed.
func (s *Store) Watch(ctx context.Context, fn func(history.Update)) error {
	wait := time.Duration(0)
	for {
		subscribed, err := s.session(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, redis.ErrClosed) {
			return fmt.Errorf("redishistory: watch: %w", err)
		}
		if subscribed {
			wait = 0
		}
		wait = min(max(2*wait, 50*time.Millisecond), backoffMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session runs one subscription until it fails, and says whether Redis
// confirmed it. go-redis reconnects a PubSub by itself after an error;
// session leaves that to the next one instead, so that every
// subscription is new and its confirmation is the Lost.
func (s *Store) session(ctx context.Context, fn func(history.Update)) (subscribed bool, err error) {
	ps := s.rdb.Subscribe(ctx, s.feed)
	var heard atomic.Int64 // when Redis last sent something, in Unix ns
	heard.Store(time.Now().UnixNano())
	done := make(chan struct{})
	var stalled atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { stalled.Store(s.watchdog(ctx, ps, &heard, done)) })
	defer func() {
		close(done)
		_ = ps.Close()
		wg.Wait()
		if stalled.Load() && ctx.Err() == nil {
			err = errStalled
		}
	}()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return subscribed, err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == s.feed {
				subscribed = true
				fn(history.Update{Lost: true})
			}
		case *redis.Message:
			u, ok := decodeFeed(m.Payload)
			// A message the scripts did not write: the feed cannot
			// be trusted to be whole.
			fn(history.Update{Room: u.Room, Entry: u.Entry, Lost: !ok})
		}
		heard.Store(time.Now().UnixNano())
	}
}

// watchdog pings Redis when the subscription has been quiet for
// pingAfter, and closes it when it has been for stallAfter (it returns
// true then), or when ctx ends, which unblocks Receive.
func (s *Store) watchdog(ctx context.Context, ps *redis.PubSub, heard *atomic.Int64, done <-chan struct{}) bool {
	pingAfter, stallAfter := s.pingAfter, s.stallAfter
	tick := time.NewTicker(pingAfter / 2)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return false
		case <-ctx.Done():
			_ = ps.Close()
			return false
		case <-tick.C:
		}
		quiet := time.Since(time.Unix(0, heard.Load()))
		if quiet >= stallAfter {
			_ = ps.Close()
			return true
		}
		if quiet >= pingAfter {
			pctx, cancel := context.WithTimeout(ctx, pingAfter)
			_ = ps.Ping(pctx) // its answer comes to Receive, as a word
			cancel()
		}
	}
}

// decodeFeed reads a feed message (see appendScript): the room, epoch,
// except, offset, time in µs and binary flag, each "<length>:<bytes>",
// then the data.
func decodeFeed(p string) (history.Update, bool) {
	var f [6]string
	for i := range f {
		n, rest, ok := strings.Cut(p, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(rest) {
			return history.Update{}, false
		}
		f[i], p = rest[:size], rest[size:]
	}
	offset, err1 := strconv.ParseUint(f[3], 10, 64)
	us, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || offset == 0 {
		return history.Update{}, false
	}
	return history.Update{Room: f[0], Entry: history.Entry{
		Binary: f[5] == "1", Data: []byte(p), Except: f[2],
		Pos:  history.Position{Epoch: f[1], Offset: offset},
		Prev: offset - 1, Time: time.UnixMicro(us),
	}}, true
}
