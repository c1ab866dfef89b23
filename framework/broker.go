package framework

import (
	"context"
	"sync"
)

// Broker is the publish/subscribe service that links the hubs of several
// servers (nodes), and Publishers, so that a broadcast on one node reaches
// the members of the room on every node. It needs nothing but publish and
// subscribe: presence is built on top by the hub. Adapters live in their
// own packages, so that an application links only the one it uses:
// github.com/nowebsocket/nows/framework/broker/nats and
// github.com/nowebsocket/nows/framework/broker/redis. [MemoryBroker] links
// servers of one process.
//
// A Broker must be safe for concurrent use. It must survive an outage of
// its service: Publish fails (or buffers) while the service is down, and
// subscriptions resume by themselves when it is back.
type Broker interface {
	// Publish sends payload to every subscription of topic, on every
	// node, the publisher's own included. payload may not be kept after
	// Publish returns. Payloads from one publisher arrive in order.
	Publish(ctx context.Context, topic string, payload []byte) error

	// Subscribe calls fn with every payload published to topic until the
	// subscription is closed. fn is called from one goroutine at a time;
	// its payload is valid only until fn returns.
	Subscribe(ctx context.Context, topic string, fn func(payload []byte)) (Subscription, error)
}

// Subscription is a subscription to a Broker topic.
type Subscription interface {
	// Close ends the subscription: fn is not called once Close returns.
	Close() error
}

// MemoryBroker is an in-process Broker: it links the hubs of several
// Servers in one process (and Publishers), delivering each payload
// synchronously to every subscription. Without any broker a Server's hub
// works alone, so MemoryBroker is needed only to share rooms between
// servers of one process. The zero value is ready to use.
type MemoryBroker struct {
	mu   sync.RWMutex
	subs map[string][]*memorySub
}

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker { return &MemoryBroker{} }

type memorySub struct {
	b      *MemoryBroker
	topic  string
	mu     sync.Mutex // held while fn runs, so that Close waits for it
	fn     func([]byte)
	closed bool
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	subs := b.subs[topic]
	b.mu.RUnlock()
	for _, s := range subs {
		s.deliver(payload)
	}
	return nil
}

func (s *memorySub) deliver(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.fn(p)
	}
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &memorySub{b: b, topic: topic, fn: fn}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = make(map[string][]*memorySub)
	}
	// Copy on write: Publish reads the slice without the lock.
	b.subs[topic] = append(append([]*memorySub(nil), b.subs[topic]...), s)
	return s, nil
}

// Close implements Subscription.
func (s *memorySub) Close() error {
	s.b.mu.Lock()
	subs := s.b.subs[s.topic]
	next := make([]*memorySub, 0, len(subs))
	for _, o := range subs {
		if o != s {
			next = append(next, o)
		}
	}
	s.b.subs[s.topic] = next
	s.b.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
