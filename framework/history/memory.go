package history

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// Memory is the Store of a single node: the history lives in the process
// and dies with it (each room's epoch is new after a restart). Make it
// with NewMemory.
type Memory struct {
	now func() time.Time // the clock; time.Now but in tests

	mu       sync.Mutex
	rooms    map[string]*memRoom
	watchers map[*memWatcher]struct{}
	swept    time.Time // when forgotten rooms were last looked for
}

// memRoom is one room's history.
type memRoom struct {
	epoch   string
	top     uint64    // the offset of its last entry, 0 for none
	last    time.Time // when it was last appended to or created
	meta    time.Duration
	entries []Entry // the window, oldest first; offsets top-len+1..top
}

// memWatcher is the queue of one Watch: Append never waits for a watcher.
type memWatcher struct {
	mu    sync.Mutex
	queue []Update
	wake  chan struct{} // holds a token while queue is not empty
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{now: time.Now, rooms: make(map[string]*memRoom), watchers: make(map[*memWatcher]struct{})}
}

var errLimits = errors.New("history: Limits.Size and Limits.TTL must be positive")

// Append implements Store.
func (s *Memory) Append(ctx context.Context, room string, m Entry, lim Limits) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if lim.Size <= 0 || lim.TTL <= 0 {
		return Entry{}, errLimits
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r := s.room(room, now, lim)
	e := Entry{Binary: m.Binary, Data: slices.Clone(m.Data), Except: m.Except,
		Pos: Position{Epoch: r.epoch, Offset: r.top + 1}, Prev: r.top, Time: now}
	r.top++
	r.last = now
	r.entries = append(r.entries, e)
	r.trim(now, lim)
	for w := range s.watchers {
		w.push(Update{Room: room, Entry: e})
	}
	return e, nil
}

// Since implements Store.
func (s *Memory) Since(ctx context.Context, room string, since Position, limit int, lim Limits) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if lim.Size <= 0 || lim.TTL <= 0 {
		return Result{}, errLimits
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r := s.room(room, now, lim)
	r.trim(now, lim)
	res := Result{Top: Position{Epoch: r.epoch, Offset: r.top}}
	switch {
	case since.Epoch == "":
		return res, nil
	case since.Epoch != r.epoch || since.Offset > r.top:
		res.Reason = ReasonEpoch
		return res, nil
	case since.Offset == r.top:
		return res, nil
	}
	first := r.top - uint64(len(r.entries)) + 1 // the oldest offset kept
	if since.Offset+1 < first {
		res.Reason = ReasonTooOld
		return res, nil
	}
	from := int(since.Offset + 1 - first)
	n := min(limit, len(r.entries)-from)
	if n > 0 {
		res.Entries = slices.Clone(r.entries[from : from+n])
	}
	return res, nil
}

// room returns room's history, made (with a new epoch) when it has none
// or had none for its Meta time. s.mu is held.
func (s *Memory) room(room string, now time.Time, lim Limits) *memRoom {
	s.sweep(now)
	r := s.rooms[room]
	if r != nil && now.Sub(r.last) < r.meta {
		r.meta = lim.meta()
		return r
	}
	r = &memRoom{epoch: newEpoch(now), last: now, meta: lim.meta()}
	s.rooms[room] = r
	return r
}

// sweep forgets, at most once a minute, the rooms silent for their Meta
// time. s.mu is held.
func (s *Memory) sweep(now time.Time) {
	if now.Sub(s.swept) < time.Minute {
		return
	}
	s.swept = now
	for name, r := range s.rooms {
		if now.Sub(r.last) >= r.meta {
			delete(s.rooms, name)
		}
	}
}

// trim drops the entries out of the window.
func (r *memRoom) trim(now time.Time, lim Limits) {
	n := max(len(r.entries)-lim.Size, 0)
	for n < len(r.entries) && now.Sub(r.entries[n].Time) >= lim.TTL {
		n++
	}
	if n == 0 {
		return
	}
	clear(r.entries[:n])
	r.entries = r.entries[n:]
	if len(r.entries) == 0 {
		r.entries = nil // a burst does not pin its memory
	}
}

// Watch implements Store. The memory store's feed is never interrupted:
// its only Lost update is the first.
func (s *Memory) Watch(ctx context.Context, fn func(Update)) error {
	w := &memWatcher{wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.watchers[w] = struct{}{}
	w.push(Update{Lost: true})
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		}
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, u := range q {
			if ctx.Err() != nil {
				return nil
			}
			fn(u)
		}
	}
}

// push queues u for the watcher.
func (w *memWatcher) push(u Update) {
	w.mu.Lock()
	w.queue = append(w.queue, u)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// newEpoch returns an epoch made at now: its time, then random bytes, so
// that a room's epochs sort by age.
func newEpoch(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}
