package framework

import (
	"context"
	"sync"
)

// Broker is the publish/subscribe service that links the hubs of several
// nodes: framework/broker/natsbroker, redisbroker, or [NewMemoryBroker]. It
// must be safe for concurrent use and survive an outage: Publish fails while
// the service is down, subscriptions resume when it is back. A Broker with a
// method MaxPayload() int gets no payload larger: the hub sends it in chunks.
type Broker interface {
	// Publish sends payload to every subscription of topic, the
	// publisher's own included, in order; it may not keep payload.
	Publish(ctx context.Context, topic string, payload []byte) error

	// Subscribe calls fn, one call at a time, with every payload published
	// to topic until the subscription closes; payload is valid during fn.
	Subscribe(ctx context.Context, topic string, fn func(payload []byte)) (Subscription, error)
}

// Subscription is a subscription to a Broker topic.
type Subscription interface {
	// Close ends the subscription: fn is not called once Close returns.
	Close() error
}

// memoryBroker is the in-process Broker of NewMemoryBroker.
type memoryBroker struct {
	mu   sync.RWMutex
	subs map[string][]*memorySub
}

// NewMemoryBroker returns an in-process Broker, linking the hubs of several
// servers in one process (tests, demos); it delivers synchronously.
func NewMemoryBroker() Broker { return &memoryBroker{} }

type memorySub struct {
	b      *memoryBroker
	topic  string
	mu     sync.Mutex // held while fn runs, so that Close waits for it
	fn     func([]byte)
	closed bool
}

func (b *memoryBroker) Publish(ctx context.Context, topic string, payload []byte) error {
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

func (b *memoryBroker) Subscribe(ctx context.Context, topic string, fn func([]byte)) (Subscription, error) {
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
