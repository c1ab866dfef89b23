// Package redisbroker links the hubs of several nows servers through Redis
// pub/sub (github.com/redis/go-redis/v9), so that rooms, broadcasts and
// presence span every node:
//
//	b, err := redisbroker.Connect("redis://127.0.0.1:6379", redisbroker.Options{})
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	srv := framework.NewServer(framework.Options{Hub: framework.HubOptions{Broker: b}})
//
// Only an application that imports this package links go-redis.
//
// # Large messages
//
// The Broker tells the hub a payload limit ([Broker.MaxPayload], 1 MiB by
// default), so that a broadcast larger than that goes out in chunks and is
// put together on the other nodes, as over NATS. Redis itself takes 512 MB
// per message; the limit is there for its subscribers' output buffers (see
// [DefaultMaxPayload]).
//
// # Outages
//
// While Redis is down, Publish fails (the hub reports it in Hub.Err and
// goes on delivering locally) and each subscription retries with a backoff
// of up to one second, subscribing again once Redis is back.
package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/redis/go-redis/v9"
)

// Options configures a Broker.
type Options struct {
	// Prefix goes before every topic to make the Redis channel, to keep
	// applications that share a Redis apart (e.g. "chat:"). Defaults to "".
	Prefix string

	// Logger receives subscription losses and recoveries. Defaults to
	// slog.Default().
	Logger *slog.Logger

	// MaxPayload is the largest payload published in one Redis message;
	// the hub sends larger broadcasts in chunks under it and presence
	// states in pages under it. Defaults to DefaultMaxPayload; a negative
	// value means no limit (each message goes out whole, which a
	// subscriber's client-output-buffer-limit may not survive).
	MaxPayload int
}

// DefaultMaxPayload is the default Options.MaxPayload: 1 MiB.
//
// Redis accepts messages up to 512 MB, but each message published sits
// whole in every subscriber's output buffer until that subscriber reads it,
// and Redis disconnects a subscriber whose buffer passes its
// client-output-buffer-limit pubsub: 32 MB at once, or 8 MB for 60 s, by
// default. A broadcast sent whole (MaxMessageBytes may be raised to tens of
// MiB) could therefore cut every other node off the room traffic at once.
// In 1 MiB chunks, one publish adds at most 1 MiB to each buffer, and the
// publisher waits for Redis's reply to each chunk before the next, which
// leaves the subscribers time to drain theirs. 1 MiB is also NATS's default
// max_payload, so a cluster behaves the same over either broker, and the
// per-chunk overhead (a few dozen bytes and one round trip) is negligible
// at that size.
const DefaultMaxPayload = 1 << 20

// Broker is a framework.Broker over Redis pub/sub. Its methods are safe
// for concurrent use.
type Broker struct {
	rdb        redis.UniversalClient
	prefix     string
	log        *slog.Logger
	own        bool
	maxPayload int
}

var _ framework.Broker = (*Broker)(nil)

// New returns a Broker over rdb. The caller keeps rdb and closes it after
// the servers that use the Broker have shut down.
func New(rdb redis.UniversalClient, opts Options) *Broker {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	limit := opts.MaxPayload
	switch {
	case limit == 0:
		limit = DefaultMaxPayload
	case limit < 0:
		limit = 0
	}
	return &Broker{rdb: rdb, prefix: opts.Prefix, log: log, maxPayload: limit}
}

// Connect returns a Broker that owns a client for url
// ("redis://[:password@]host:port[/db]"), with a 1 s dial timeout so that
// an outage is noticed quickly. It does not wait for Redis: a server
// starts while Redis is down and catches up when it is back.
func Connect(url string, opts Options) (*Broker, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisbroker: %w", err)
	}
	ro.DialTimeout = time.Second
	ro.MaxRetries = -1 // the hub's outbox decides what a failed publish costs
	b := New(redis.NewClient(ro), opts)
	b.own = true
	return b, nil
}

// Client returns the Redis client.
func (b *Broker) Client() redis.UniversalClient { return b.rdb }

// MaxPayload returns the largest payload the Broker publishes in one Redis
// message (Options.MaxPayload, DefaultMaxPayload by default), or 0 for no
// limit. The hub reads it to send larger broadcasts in chunks and presence
// states in pages under it.
func (b *Broker) MaxPayload() int { return b.maxPayload }

// Publish implements framework.Broker.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := b.rdb.Publish(ctx, b.prefix+topic, payload).Err(); err != nil {
		return fmt.Errorf("redisbroker: publish: %w", err)
	}
	return nil
}

// Subscribe implements framework.Broker. A goroutine receives the
// messages until Close; it reconnects and subscribes again after an
// outage.
func (b *Broker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (framework.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	channel := b.prefix + topic
	ps := b.rdb.Subscribe(ctx)
	if err := ps.Subscribe(ctx, channel); err != nil {
		// The channel is recorded: the receive loop subscribes once
		// Redis answers.
		b.log.Warn("redisbroker: subscribe failed; retrying", "channel", channel, "err", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	s := &subscription{ps: ps, cancel: cancel}
	s.loop.Go(func() { b.receive(rctx, s, channel, fn) })
	return s, nil
}

// receive delivers messages until the subscription closes, backing off
// while Redis is unreachable.
func (b *Broker) receive(ctx context.Context, s *subscription, channel string, fn func([]byte)) {
	backoff := time.Duration(0)
	failing := false
	for {
		msg, err := s.ps.ReceiveMessage(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				b.log.Warn("redisbroker: subscription lost; reconnecting", "channel", channel, "err", err)
				failing = true
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		if failing {
			b.log.Info("redisbroker: subscription restored", "channel", channel)
			failing, backoff = false, 0
		}
		fn([]byte(msg.Payload))
	}
}

// Close closes the client if Connect made it; a Broker from New leaves it
// to its owner.
func (b *Broker) Close() error {
	if !b.own {
		return nil
	}
	if err := b.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisbroker: close: %w", err)
	}
	return nil
}

type subscription struct {
	ps     *redis.PubSub
	cancel context.CancelFunc
	loop   sync.WaitGroup
	once   sync.Once
}

// Close implements framework.Subscription: it stops the receive loop and
// waits for it.
func (s *subscription) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		err = s.ps.Close()
		s.loop.Wait()
	})
	if err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redisbroker: unsubscribe: %w", err)
	}
	return nil
}
