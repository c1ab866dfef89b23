// Package natshistory is a history.Store on NATS JetStream
// (github.com/nats-io/nats.go/jetstream), for rooms whose history every
// node of a cluster shares:
//
//	st, err := natshistory.New(ctx, nc, natshistory.Options{
//		Window: history.Limits{Size: 1000, TTL: time.Hour},
//	})
//	if err != nil {
//		return err
//	}
//	hub := framework.HubOptions{History: history.Config{
//		Store: st,
//		Rooms: map[string]history.Limits{"chat.*": {Size: 1000, TTL: time.Hour}},
//	}}
//
// Only an application that imports this package links NATS.
//
// # The stream
//
// One stream (Options.Stream, "nows-history" by default) keeps every
// room, each on a subject of its own under Options.Prefix, the room's
// name encoded (base64url) into one subject token, so any name works. An
// entry's offset is its stream sequence: offsets grow but skip the other
// rooms' entries, and each entry carries the offset of its room's
// previous one (Prev), which the store makes right with a conditional
// publish (the server refuses the message if another of the room came
// first, naming the room's last sequence, and the store tries again
// after it). A node's appends to one room take turns, and it remembers
// each room's last sequence from its appends and its feed, so only
// appends of two nodes to one room at the same moment are refused.
//
// Every node gives New the same Options: New fits the stream's limits to
// its own, so nodes with other windows would undo each other's.
//
// The stream's limits are the window of Options.Window, the largest any
// room uses: MaxMsgsPerSubject its Size, MaxAge its TTL. Rooms with a
// smaller window share it: Since enforces each room's own window exactly
// when it reads. A room silent for longer than the TTL loses its last
// entry with the stream's MaxAge, so its next entry starts a new chain
// (Prev 0): a reader at the lost position is told too_old although it
// missed nothing.
//
// The epoch is the stream's creation time (16 hex digits of Unix
// nanoseconds) and a hash of its name: a stream deleted and created again
// starts a new epoch, which sorts after the old one. Purging it does not,
// so never purge a history stream; delete it instead. A Store makes its
// stream again when it finds it gone (Append, Since, a restart of Watch's
// feed). A node learns of a new stream when its feed starts again (the
// consumer goes with the old stream, so within a second or so), when
// Since reads, or when an append to a room it knows is refused (the new
// stream's last message of the room has another sequence); until then
// its appends may come back with the old epoch, and a node's cursor
// drops or holds them until the feed's Lost moves it to the new one.
//
// Since costs a few round trips: the stream's info (for the epoch), the
// room's last message, and a consumer of the room's subject made from the
// position, which counts the entries after it for the window's Size, then
// fetched and deleted.
//
// # Messages and times
//
// JetStream stores a message of up to the server's max_payload, headers
// included. New fails when that is under Options.MaxMessageBytes plus
// room for the store's headers. An entry's Time is the server's clock,
// except in Append's result, which has the node's; Since compares it with
// the node's clock for the window's TTL, so keep the clocks in sync.
package natshistory

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nowebsocket/nows/framework/history"
)

// Options configures a Store.
type Options struct {
	// Stream is the JetStream stream's name. Defaults to "nows-history".
	Stream string

	// Prefix is the subjects' prefix: the stream takes "<Prefix>.>".
	// Defaults to "nows.history".
	Prefix string

	// Window is the largest window a room of this store has (Size and TTL
	// each the largest of history.Config.Rooms): the stream keeps that
	// much. Append and Since fail for a room whose window is larger.
	// Required.
	Window history.Limits

	// MaxMessageBytes is the largest message the app stores. Defaults to
	// 2 MiB, the framework's Options.MaxMessageBytes default.
	MaxMessageBytes int

	// Replicas is the stream's replica count when New creates it.
	// Defaults to 1.
	Replicas int
}

// Store is a history.Store over a JetStream stream. Its methods are safe
// for concurrent use. Make it with New.
type Store struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	st     jetstream.Stream // for direct gets: they go by the stream's name
	cfg    jetstream.StreamConfig
	prefix string
	window history.Limits

	mu    sync.Mutex
	epoch string            // the stream's, as last read
	last  map[string]uint64 // room → its last sequence seen, this epoch
	locks map[string]*roomLock
}

var _ history.Store = (*Store)(nil)

// Header names of the entries.
const (
	hdrPrev   = "Nows-Prev"
	hdrBinary = "Nows-Binary"
	hdrExcept = "Nows-Except"
)

// headerRoom is the room MaxMessageBytes leaves for the headers of a
// message in max_payload.
const headerRoom = 512

// maxAttempts bounds Append's conditional publishes lost to other nodes'
// appends to the same room. Each loss means another node's append went
// in; a node that appends without pause can win many in a row.
const maxAttempts = 100

// maxCached bounds the rooms whose last sequence a Store remembers.
const maxCached = 1 << 16

// New returns a Store over nc, creating its stream, or updating the
// stream's limits and subjects when they do not fit Options. The caller
// keeps nc and closes it after the servers that use the Store.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Store, error) {
	if opts.Window.Size <= 0 || opts.Window.TTL <= 0 {
		return nil, errors.New("natshistory: Options.Window needs a positive Size and TTL: the largest window of history.Config.Rooms")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natshistory: %w", err)
	}
	s := &Store{nc: nc, js: js, prefix: cmpOr(opts.Prefix, "nows.history"), window: opts.Window, last: map[string]uint64{}, locks: map[string]*roomLock{}}
	s.cfg = jetstream.StreamConfig{
		Name:              cmpOr(opts.Stream, "nows-history"),
		Subjects:          []string{s.prefix + ".>"},
		MaxMsgsPerSubject: int64(opts.Window.Size),
		MaxAge:            opts.Window.TTL,
		AllowDirect:       true,
		Replicas:          max(opts.Replicas, 1),
	}
	if err := checkPayload(nc, opts.MaxMessageBytes); err != nil {
		return nil, err
	}
	if err := s.setup(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// setup creates the stream or fits the one there, and reads its epoch.
func (s *Store) setup(ctx context.Context) error {
	st, err := s.js.Stream(ctx, s.cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		st, err = s.js.CreateStream(ctx, s.cfg)
	case err == nil && !fits(st.CachedInfo().Config, s.cfg):
		c := st.CachedInfo().Config
		c.Subjects, c.MaxMsgsPerSubject, c.MaxAge, c.AllowDirect = s.cfg.Subjects, s.cfg.MaxMsgsPerSubject, s.cfg.MaxAge, true
		st, err = s.js.UpdateStream(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("natshistory: stream %s: %w", s.cfg.Name, err)
	}
	s.st = st
	s.setEpoch(st.CachedInfo())
	return nil
}

// fits reports whether the stream's config c keeps what want does.
func fits(c, want jetstream.StreamConfig) bool {
	return len(c.Subjects) == 1 && c.Subjects[0] == want.Subjects[0] && c.AllowDirect &&
		c.MaxMsgsPerSubject == want.MaxMsgsPerSubject && c.MaxAge == want.MaxAge
}

// checkPayload fails when the server takes messages smaller than the
// app's largest with its headers.
func checkPayload(nc *nats.Conn, maxBytes int) error {
	if maxBytes <= 0 {
		maxBytes = 2 << 20
	}
	limit := nc.MaxPayload()
	if limit == 0 {
		return errors.New("natshistory: not connected to the NATS server: New needs its max_payload")
	}
	if limit < int64(maxBytes+headerRoom) {
		return fmt.Errorf("natshistory: the NATS server takes messages of up to %d bytes (max_payload), under Options.MaxMessageBytes (%d) plus %d bytes of headers: raise max_payload in the server's configuration, or lower MaxMessageBytes", limit, maxBytes, headerRoom)
	}
	return nil
}

// setEpoch takes the stream's epoch from its info; a new one forgets the
// rooms' last sequences.
func (s *Store) setEpoch(info *jetstream.StreamInfo) string {
	sum := sha256.Sum256([]byte(info.Config.Name))
	e := fmt.Sprintf("%016x", uint64(info.Created.UnixNano())) + hex.EncodeToString(sum[:4])
	s.mu.Lock()
	defer s.mu.Unlock()
	if e != s.epoch {
		s.epoch = e
		clear(s.last)
	}
	return e
}

// refresh reads the stream's epoch, creating the stream if it is gone.
func (s *Store) refresh(ctx context.Context) (*jetstream.StreamInfo, string, error) {
	st, err := s.js.Stream(ctx, s.cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.js.CreateStream(ctx, s.cfg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("natshistory: stream %s: %w", s.cfg.Name, err)
	}
	info := st.CachedInfo()
	return info, s.setEpoch(info), nil
}

// seen records seq as room's last sequence in epoch, if later.
func (s *Store) seen(epoch, room string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch != s.epoch || seq <= s.last[room] {
		return
	}
	if _, ok := s.last[room]; !ok && len(s.last) >= maxCached {
		clear(s.last) // forgotten rooms cost a read at their next append
	}
	s.last[room] = seq
}

// cached returns room's last sequence as seen, and the epoch.
func (s *Store) cached(room string) (uint64, bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.last[room]
	return seq, ok, s.epoch
}

// subject returns room's subject.
func (s *Store) subject(room string) string {
	return s.prefix + "." + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// roomOf returns the room of a subject, or false for another subject.
func (s *Store) roomOf(subject string) (string, bool) {
	if len(subject) <= len(s.prefix)+1 || subject[:len(s.prefix)+1] != s.prefix+"." {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(subject[len(s.prefix)+1:])
	return string(b), err == nil
}

// check fails for a window the stream does not keep.
func (s *Store) check(lim history.Limits) error {
	if lim.Size <= 0 || lim.TTL <= 0 {
		return errors.New("natshistory: Limits.Size and Limits.TTL must be positive")
	}
	if lim.Size > s.window.Size || lim.TTL > s.window.TTL {
		return fmt.Errorf("natshistory: window %d entries, %v is over Options.Window (%d, %v), which the stream keeps: raise Options.Window", lim.Size, lim.TTL, s.window.Size, s.window.TTL)
	}
	return nil
}

// lastSeq reads the sequence of the last message on subject, 0 for none.
func (s *Store) lastSeq(ctx context.Context, subject string) (uint64, error) {
	m, err := s.st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("natshistory: read %s: %w", subject, err)
	}
	return m.Sequence, nil
}

// entry makes the entry of a stored message.
func entry(epoch string, seq uint64, h nats.Header, data []byte, t time.Time) history.Entry {
	prev, _ := strconv.ParseUint(h.Get(hdrPrev), 10, 64)
	return history.Entry{Binary: h.Get(hdrBinary) != "", Data: data, Except: h.Get(hdrExcept),
		Pos: history.Position{Epoch: epoch, Offset: seq}, Prev: prev, Time: t}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
