// Package natsbroker links the hubs of several nows servers through NATS
// (github.com/nats-io/nats.go), so that rooms, broadcasts and presence
// span every node:
//
//	b, err := natsbroker.Connect("nats://127.0.0.1:4222", natsbroker.Options{})
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	srv := framework.NewServer(framework.Options{Hub: framework.HubOptions{Broker: b}})
//
// Only an application that imports this package links NATS.
//
// # Outages
//
// nats.go reconnects by itself, forever with Connect. While the connection
// is down, Publish fails with nats.ErrDisconnected rather than buffering
// (the hub reports it in Hub.Err and goes on delivering locally; the other
// nodes count what it could not publish), and the subscription resumes on
// reconnection. With a NATS cluster, give Connect every server's URL, or
// one: the cluster tells the client the others, and when its server goes
// the connection moves to another at once.
package natsbroker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nowebsocket/nows/framework"
)

// Options configures a Broker.
type Options struct {
	// Prefix goes before every topic to make the NATS subject, to keep
	// applications that share a NATS server apart (e.g. "chat."). Defaults
	// to "": subjects are the hub's topics ("nows.hub").
	Prefix string

	// Logger receives connection events (disconnect, reconnect, slow
	// consumer) of a Broker made by Connect. Defaults to slog.Default().
	Logger *slog.Logger

	// ReconnectWait is how long Connect waits between reconnection
	// attempts. Defaults to 500 ms.
	ReconnectWait time.Duration
}

// Broker is a framework.Broker over a NATS connection. Its methods are
// safe for concurrent use.
type Broker struct {
	nc     *nats.Conn
	prefix string
	own    bool
}

var _ framework.Broker = (*Broker)(nil)

// New returns a Broker over nc. The caller keeps nc: it chose its options
// and closes it after the servers that use the Broker have shut down.
func New(nc *nats.Conn, opts Options) *Broker {
	return &Broker{nc: nc, prefix: opts.Prefix}
}

// Connect connects to the NATS server at url ("nats://host:port", or a
// comma-separated list) and returns a Broker that owns the connection. It
// retries forever, also when the first attempt fails, so a server starts
// even while NATS is down; Close ends it.
func Connect(url string, opts Options) (*Broker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	wait := opts.ReconnectWait
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	nc, err := nats.Connect(url,
		nats.Name("nows"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // fail publishes while down: the hub reports it
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("natsbroker: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("natsbroker: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("natsbroker: error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: connect %s: %w", url, err)
	}
	return &Broker{nc: nc, prefix: opts.Prefix, own: true}, nil
}

// Conn returns the NATS connection.
func (b *Broker) Conn() *nats.Conn { return b.nc }

// MaxPayload returns the largest message the NATS server takes
// (max_payload, 1 MiB by default), as it told the connection, or 1 MiB
// before the first connection. The hub sends larger messages in chunks.
func (b *Broker) MaxPayload() int {
	if n := b.nc.MaxPayload(); n > 0 {
		return int(n)
	}
	return defaultMaxPayload
}

// defaultMaxPayload is the NATS server's default max_payload.
const defaultMaxPayload = 1 << 20

// Publish implements framework.Broker. It fails at once while the
// connection is down.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("natsbroker: publish: %w", nats.ErrDisconnected)
	}
	if err := b.nc.Publish(b.prefix+topic, payload); err != nil {
		return fmt.Errorf("natsbroker: publish: %w", err)
	}
	return nil
}

// Subscribe implements framework.Broker. The subscription survives
// reconnections.
func (b *Broker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (framework.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &subscription{fn: fn}
	sub, err := b.nc.Subscribe(b.prefix+topic, s.deliver)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: subscribe %s: %w", b.prefix+topic, err)
	}
	s.sub = sub
	return s, nil
}

// Close closes the connection if Connect made it; a Broker from New leaves
// it to its owner.
func (b *Broker) Close() error {
	if b.own {
		b.nc.Close()
	}
	return nil
}

type subscription struct {
	sub    *nats.Subscription
	mu     sync.Mutex // held while fn runs, so that Close waits for it
	fn     func([]byte)
	closed bool
}

func (s *subscription) deliver(m *nats.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.fn(m.Data)
	}
}

// Close implements framework.Subscription.
func (s *subscription) Close() error {
	err := s.sub.Unsubscribe()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if err != nil && err != nats.ErrConnectionClosed {
		return fmt.Errorf("natsbroker: unsubscribe: %w", err)
	}
	return nil
}
