package natshistory

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nowebsocket/nows/framework/history"
)

// Since implements history.Store. It reads the stream's epoch and the
// room's last sequence, then the entries after since with a consumer of
// the room's subject, which also counts them for the window's Size.
func (s *Store) Since(ctx context.Context, room string, since history.Position, limit int, lim history.Limits) (history.Result, error) {
	if err := s.check(lim); err != nil {
		return history.Result{}, err
	}
	info, epoch, err := s.refresh(ctx)
	if err != nil {
		return history.Result{}, err
	}
	subject := s.subject(room)
	top, err := s.lastSeq(ctx, subject)
	if err != nil {
		return history.Result{}, err
	}
	s.seen(epoch, room, top)
	res := history.Result{Top: history.Position{Epoch: epoch, Offset: top}}
	switch {
	case since.Epoch == "" || since.Epoch == epoch && since.Offset == top:
		return res, nil
	case since.Epoch != epoch:
		res.Reason = history.ReasonEpoch
		return res, nil
	case since.Offset > top:
		// Past the room's last: an offset the epoch never reached, or,
		// when the room has no message left (MaxAge took them all), one
		// that may have been its.
		res.Reason = history.ReasonEpoch
		if top == 0 && since.Offset <= info.State.LastSeq {
			res.Reason = history.ReasonTooOld
		}
		return res, nil
	}
	res.Entries, res.Reason, err = s.read(ctx, subject, epoch, since.Offset, top, limit, lim)
	return res, err
}

// read returns up to limit entries of subject after the sequence after
// and up to top, or why they are not in the window lim.
func (s *Store) read(ctx context.Context, subject, epoch string, after, top uint64, limit int, lim history.Limits) ([]history.Entry, history.Reason, error) {
	c, err := s.st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1,
		FilterSubject: subject, AckPolicy: jetstream.AckNonePolicy,
		MemoryStorage: true, Replicas: 1, InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, "", fmt.Errorf("natshistory: read %s: %w", subject, err)
	}
	defer s.dropConsumer(ctx, c)
	pending := c.CachedInfo().NumPending // the room's entries after after, now
	if pending == 0 || pending > uint64(lim.Size) {
		return nil, history.ReasonTooOld, nil
	}
	batch, err := c.FetchNoWait(max(1, min(limit, int(pending))))
	if err != nil {
		return nil, "", fmt.Errorf("natshistory: read %s: %w", subject, err)
	}
	var es []history.Entry
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return nil, "", fmt.Errorf("natshistory: read %s: %w", subject, err)
		}
		es = append(es, entry(epoch, md.Sequence.Stream, m.Headers(), m.Data(), md.Timestamp))
	}
	if err := batch.Error(); err != nil {
		return nil, "", fmt.Errorf("natshistory: read %s: %w", subject, err)
	}
	return window(es, after, top, limit, lim)
}

// window checks the entries read after the sequence after against the
// window: the first must follow it and be younger than the TTL. It keeps
// those up to top that chain, at most limit.
func window(es []history.Entry, after, top uint64, limit int, lim history.Limits) ([]history.Entry, history.Reason, error) {
	if len(es) == 0 || es[0].Prev > after || es[0].Prev == 0 && after > 0 || time.Since(es[0].Time) >= lim.TTL {
		return nil, history.ReasonTooOld, nil
	}
	if es[0].Prev != after {
		// The room's message before the first after is before after:
		// after is not one of the room's.
		return nil, history.ReasonEpoch, nil
	}
	prev, n := after, 0
	for n < len(es) && n < limit && es[n].Pos.Offset <= top && es[n].Prev == prev {
		prev = es[n].Pos.Offset
		n++
	}
	if n == 0 {
		return nil, "", nil
	}
	return es[:n], "", nil
}

// dropConsumer deletes a consumer, giving up after a second: the server
// deletes it anyway once it is inactive.
func (s *Store) dropConsumer(ctx context.Context, c jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = s.st.DeleteConsumer(ctx, c.CachedInfo().Name)
}
