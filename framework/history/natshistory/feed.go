package natshistory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nowebsocket/nows/framework/history"
)

// Watch implements history.Store. The feed is one consumer of every
// room's subject, ephemeral and without acks, from the stream's end. It
// starts again, with a Lost update, whenever it may have missed a
// message: the connection reconnected, the consumer skipped a delivery,
// was deleted (with its stream) or stopped sending heartbeats. Each start
// reads the stream's epoch again, so a stream made again is followed in
// its new epoch.
func (s *Store) Watch(ctx context.Context, fn func(history.Update)) error {
	status := s.nc.StatusChanged(nats.CONNECTED)
	defer s.nc.RemoveStatusListener(status)
	f := &feed{s: s, fn: fn, broken: make(chan struct{}, 1)}
	stop, err := f.start(ctx)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-status:
		case <-f.broken:
		}
		stop()
		if stop = f.restart(ctx); stop == nil {
			return nil
		}
	}
}

// feed is one Watch's state.
type feed struct {
	s      *Store
	fn     func(history.Update)
	broken chan struct{} // holds a token when the consumer must start again

	mu    sync.Mutex // held while fn runs: one call at a time
	gen   int        // the consumer's generation; deliveries of others are dropped
	epoch string
	dseq  uint64 // the last delivery's sequence in the consumer
}

// feedBackoff bounds the wait between attempts to start the feed again.
const (
	feedBackoffMin = 50 * time.Millisecond
	feedBackoffMax = 2 * time.Second
)

// restart starts the feed again, retrying with backoff until ctx ends
// (then it returns nil).
func (f *feed) restart(ctx context.Context) func() {
	wait := feedBackoffMin
	for {
		stop, err := f.start(ctx)
		if err == nil {
			return stop
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, feedBackoffMax)
	}
}

// start makes the consumer, from the message after the stream's last,
// tells fn Lost, and returns the function that stops it.
func (f *feed) start(ctx context.Context) (func(), error) {
	info, epoch, err := f.s.refresh(ctx)
	if err != nil {
		return nil, err
	}
	c, err := f.s.st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: info.State.LastSeq + 1,
		FilterSubject: f.s.prefix + ".>", AckPolicy: jetstream.AckNonePolicy,
		MemoryStorage: true, Replicas: 1, InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("natshistory: watch %s: %w", f.s.cfg.Name, err)
	}
	gen := f.begin(epoch)
	cc, err := c.Consume(func(m jetstream.Msg) { f.deliver(gen, m) },
		jetstream.PullExpiry(10*time.Second), // heartbeats every 5 s
		jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) { f.breakOff(gen) }))
	if err != nil {
		f.end()
		return nil, fmt.Errorf("natshistory: watch %s: %w", f.s.cfg.Name, err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
		f.end()
		f.s.dropConsumer(ctx, c)
	}, nil
}

// begin starts a generation and tells fn Lost.
func (f *feed) begin(epoch string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.epoch, f.dseq = epoch, 0
	select {
	case <-f.broken: // a token of the generation before
	default:
	}
	f.fn(history.Update{Lost: true})
	return f.gen
}

// end drops what the current generation still delivers.
func (f *feed) end() {
	f.mu.Lock()
	f.gen++
	f.mu.Unlock()
}

// deliver hands a message of generation gen to fn, unless the consumer
// skipped one: then the feed starts again.
func (f *feed) deliver(gen int, m jetstream.Msg) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen {
		return
	}
	md, err := m.Metadata()
	if err != nil || md.Sequence.Consumer != f.dseq+1 {
		f.gen++
		f.signal()
		return
	}
	f.dseq = md.Sequence.Consumer
	room, ok := f.s.roomOf(m.Subject())
	if !ok {
		return
	}
	f.s.seen(f.epoch, room, md.Sequence.Stream)
	f.fn(history.Update{Room: room, Entry: entry(f.epoch, md.Sequence.Stream, m.Headers(), m.Data(), md.Timestamp)})
}

// breakOff starts the feed again after an error of generation gen's
// consumer.
func (f *feed) breakOff(gen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen == f.gen {
		f.signal()
	}
}

// signal asks Watch to start the feed again. f.mu is held.
func (f *feed) signal() {
	select {
	case f.broken <- struct{}{}:
	default:
	}
}
