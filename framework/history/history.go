// Package history keeps the recent messages of rooms so that a client
// that was away recovers what it missed (docs/recovery.md).
//
// Every message appended to a room gets a [Position]: the room's epoch and
// an offset. Offsets grow within an epoch; a new epoch means the store
// lost the room's history (a restart of the memory store, a Redis flush, a
// JetStream stream recreated), so a position of another epoch is never
// taken for continuity. A [Store] answers "what came after this position"
// with the entries, in order, or with a [Reason] why it cannot: then the
// client is told it was not recovered, and the app resyncs it.
//
// The engines: [NewMemory] for one node; Redis Streams and NATS
// JetStream in packages of their own, so that this one needs only the
// standard library.
package history

import (
	"context"
	"strings"
	"time"
)

// Position is where a message stands in its room's history. A room's
// epochs sort by age, as strings: a store starts each with the time it
// was made (the store's clock), so that a reader tells a straggler of an
// old history from the start of a new one.
type Position struct {
	Epoch  string `json:"epoch"`  // the history's identity: changes when it is lost
	Offset uint64 `json:"offset"` // grows with every message of the epoch; 0: before the first
}

// Entry is one message in a room's history.
type Entry struct {
	Binary bool   // a binary message; else text
	Data   []byte // the payload
	Except string // the ID of the connection left out live (BroadcastOthers), or ""

	// Set by the store.
	Pos  Position  // its position
	Prev uint64    // the offset of the room's previous entry in the epoch, 0 for its first
	Time time.Time // when the store took it
}

// Limits is a room's history window: an entry is kept while it is one of
// the room's last Size entries and younger than TTL. Stores enforce it
// exactly when they read, whatever they trim lazily.
type Limits struct {
	Size int           // entries kept per room; > 0
	TTL  time.Duration // how long an entry is kept; > 0
	// Meta is how long a room's epoch and offset are kept after its last
	// message (at least TTL); after it, a position of that room is not
	// recovered (ReasonEpoch). Defaults to 24 h.
	Meta time.Duration
}

// Reason says why a position cannot be recovered.
type Reason string

// The reasons. ReasonUnavailable is never a Store's: the framework uses
// it when the store failed.
const (
	ReasonEpoch       Reason = "epoch"       // another epoch, or an offset the epoch never reached
	ReasonTooOld      Reason = "too_old"     // messages after it are out of the window (Size, TTL)
	ReasonUnavailable Reason = "unavailable" // the store could not be read
)

// Result is a Store's answer to Since.
type Result struct {
	// Entries are the entries after the position asked, oldest first,
	// each one's Prev the offset of the one before (the first's: the
	// position's); at most the limit asked, so fewer than Top has when
	// the limit cut them.
	Entries []Entry
	// Top is the room's last position when it was read (offset 0: no
	// message yet in its epoch). A room has an epoch from its first read.
	Top Position
	// Reason is set when the position cannot be recovered; Entries is
	// then empty.
	Reason Reason
}

// Update is what a Store's feed tells its watchers.
type Update struct {
	Room  string
	Entry Entry
	// Lost reports that the feed has started, or was interrupted (Room
	// and Entry are empty): entries may be missing from it before this
	// update, so the watcher reads every room it follows again with
	// Since.
	Lost bool
}

// Store keeps the history of rooms. Its methods are safe for concurrent
// use.
type Store interface {
	// Append adds a message (Binary, Data, Except of m) to room's
	// history within lim and returns its entry, Pos, Prev and Time set.
	// The store keeps a copy of m.Data.
	Append(ctx context.Context, room string, m Entry, lim Limits) (Entry, error)

	// Since returns up to limit entries of room after since, or why
	// they cannot be recovered; limit 0 reads the room's Top alone. A
	// zero since (no epoch) asks for nothing: the Result has Top alone.
	// The entries are the store's: the caller does not modify them.
	Since(ctx context.Context, room string, since Position, limit int, lim Limits) (Result, error)

	// Watch calls fn, one call at a time, with every entry appended to
	// any room, each room's in the order of their offsets, and with a
	// Lost update first, once the feed is live (entries appended after
	// it are in the feed), then whenever it may have missed some; it
	// returns when ctx ends, or with an error when it cannot start.
	Watch(ctx context.Context, fn func(Update)) error
}

// defaultMeta is Limits.Meta's default.
const defaultMeta = 24 * time.Hour

// meta returns how long a room's epoch and offset outlive its last
// message.
func (l Limits) meta() time.Duration {
	m := l.Meta
	if m <= 0 {
		m = defaultMeta
	}
	return max(m, l.TTL)
}

// Config turns history on for some rooms: the framework reads it from
// HubOptions.History and keeps the rooms that match one of Rooms in
// Store. A broadcast to such a room (Hub.Broadcast, Conn.BroadcastOthers,
// a Publisher's) is appended to Store instead of published on the
// broker, and returns Append's error; every node delivers it from the
// store's feed (Watch), in the store's order, to its members: as sent to
// plain ones, with its room and position to nows.v1 ones. The first
// local member of such a room makes the node read the room's position
// in Join (bounded by HubOptions.PublishTimeout). Every node must have
// the same Config.
type Config struct {
	Store Store
	// Rooms gives the window of the rooms with history, by pattern: a
	// room's name, or a prefix followed by "*" ("chat.*": every room
	// whose name starts with "chat."). The longest pattern that matches
	// wins.
	Rooms map[string]Limits
}

// Limits returns the window of room, and whether room has history.
func (c Config) Limits(room string) (Limits, bool) {
	if c.Store == nil {
		return Limits{}, false
	}
	if l, ok := c.Rooms[room]; ok {
		return l, true
	}
	best, found := -1, Limits{}
	for p, l := range c.Rooms {
		prefix, ok := strings.CutSuffix(p, "*")
		if ok && len(prefix) > best && strings.HasPrefix(room, prefix) {
			best, found = len(prefix), l
		}
	}
	return found, best >= 0
}
