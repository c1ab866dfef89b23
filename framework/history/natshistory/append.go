package natshistory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nowebsocket/nows/framework/history"
)

// Append implements history.Store. It publishes m on the room's subject
// on the condition that the room's last message is the one it names as
// Prev, so that two nodes appending to one room at once chain right: the
// one refused takes the room's last sequence from the server's answer
// and tries again at once, at most 100 times. The node's own appends to
// a room take turns: only other nodes' refuse them.
func (s *Store) Append(ctx context.Context, room string, m history.Entry, lim history.Limits) (history.Entry, error) {
	if err := s.check(lim); err != nil {
		return history.Entry{}, err
	}
	unlock, err := s.lockRoom(ctx, room)
	if err != nil {
		return history.Entry{}, err
	}
	defer unlock()
	subject := s.subject(room)
	prev, ok, _ := s.cached(room)
	if !ok {
		var err error
		if prev, err = s.lastSeq(ctx, subject); err != nil {
			return history.Entry{}, err
		}
	}
	for range maxAttempts {
		ack, err := s.js.PublishMsg(ctx, message(subject, m, prev), jetstream.WithExpectLastSequencePerSubject(prev))
		if err == nil {
			_, _, epoch := s.cached(room)
			s.seen(epoch, room, ack.Sequence)
			return history.Entry{Binary: m.Binary, Data: slices.Clone(m.Data), Except: m.Except,
				Pos: history.Position{Epoch: epoch, Offset: ack.Sequence}, Prev: prev, Time: time.Now()}, nil
		}
		if prev, err = s.retry(ctx, subject, prev, err); err != nil {
			return history.Entry{}, fmt.Errorf("natshistory: append to %q: %w", room, err)
		}
	}
	return history.Entry{}, fmt.Errorf("natshistory: append to %q: refused %d times: other nodes appended to the room meanwhile", room, maxAttempts)
}

// retry returns the Prev to try again with after a publish failed with
// err, or err when trying again is no use.
func (s *Store) retry(ctx context.Context, subject string, prev uint64, err error) (uint64, error) {
	switch {
	case conflict(err):
		if last, ok := wrongLast(err); ok && last >= prev {
			return last, nil
		}
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		// The stream is gone: make it again, in a new epoch.
		if _, _, err := s.refresh(ctx); err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	last, err := s.lastSeq(ctx, subject)
	if err != nil {
		return 0, err
	}
	if last < prev {
		// Sequences went back: the stream was made again (or MaxAge took
		// the room's last message, and the epoch is read for nothing).
		if _, _, err := s.refresh(ctx); err != nil {
			return 0, err
		}
	}
	return last, nil
}

// conflict reports whether err is the server refusing a conditional
// publish: another message of the room came first.
func conflict(err error) bool {
	var je jetstream.JetStreamError
	if !errors.As(err, &je) || je.APIError() == nil {
		return false
	}
	code := je.APIError().ErrorCode
	return code == jetstream.JSErrCodeStreamWrongLastSequence || code == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// wrongLast returns the room's last sequence that the server gave in
// refusing a conditional publish ("wrong last sequence: 42"), which saves
// a read: so the refused node tries again at once, as fast as the one
// that won, rather than losing every race while it reads.
func wrongLast(err error) (uint64, bool) {
	var je jetstream.JetStreamError
	if !errors.As(err, &je) || je.APIError() == nil {
		return 0, false
	}
	_, n, ok := strings.Cut(je.APIError().Description, "wrong last sequence: ")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	return seq, err == nil
}

// lockRoom serializes the node's appends to room, which would only
// refuse each other, and returns the function that ends its turn.
func (s *Store) lockRoom(ctx context.Context, room string) (func(), error) {
	s.mu.Lock()
	l := s.locks[room]
	if l == nil {
		l = &roomLock{turn: make(chan struct{}, 1)}
		s.locks[room] = l
	}
	l.users++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.locks, room)
		}
		s.mu.Unlock()
	}
	select {
	case l.turn <- struct{}{}:
		return func() { <-l.turn; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// roomLock is the turn of a room's appends on this node.
type roomLock struct {
	turn  chan struct{} // holds a token while an append has its turn
	users int           // appends holding or waiting for it; s.mu
}

// message makes the NATS message of m, after the room's message prev.
func message(subject string, m history.Entry, prev uint64) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = m.Data
	msg.Header.Set(hdrPrev, strconv.FormatUint(prev, 10))
	if m.Binary {
		msg.Header.Set(hdrBinary, "1")
	}
	if m.Except != "" {
		msg.Header.Set(hdrExcept, m.Except)
	}
	return msg
}
