// Package redishistory is a history.Store on Redis Streams
// (github.com/redis/go-redis/v9), for rooms with history on several nodes:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close()
//	srv := framework.NewServer(framework.Options{Hub: framework.HubOptions{
//		History: history.Config{
//			Store: redishistory.New(rdb, redishistory.Options{}),
//			Rooms: map[string]history.Limits{"chat.*": {Size: 1000, TTL: time.Hour}},
//		},
//	}})
//
// Each room has a stream of its entries and a hash with its epoch and
// last offset; one Lua script appends an entry to both and publishes it
// on the store's feed, a single pub/sub channel that every node's Watch
// subscribes to. A room's name may be any string.
//
// # Durability
//
// Redis acknowledges an entry before it is on disk unless the server
// runs with AOF and appendfsync always. With appendfsync everysec, a
// crash can lose the last entries while keeping the room's hash with a
// lower offset; so can a Sentinel failover to a replica that lagged,
// whatever the persistence. The room then hands out those offsets again
// in the same epoch, and a client that got the lost entries may be told
// it is recovered while it misses the new ones. For crash safety, run
// AOF with appendfsync always; otherwise, accept that risk. Losing a
// room's hash (FLUSHALL, eviction, a restart without persistence) is
// detected: the room gets a new epoch and its clients are told they were
// not recovered.
//
// Append is sent once: when its reply is lost (the connection dropped),
// it returns an error although Redis may have stored the entry, which
// then reaches the members from the feed. go-redis would send it again,
// storing it twice.
//
// # Topology
//
// Use a single Redis, or Sentinel (redis.NewFailoverClient), not Redis
// Cluster. Every node follows every room through one pub/sub channel,
// which a cluster would broadcast to all its shards; the sharded
// channels that scale (SPUBLISH) are per slot, so the feed would become
// one channel per room, subscribed by the nodes that serve it, which
// this store does not do. Keys use a hash tag per room all the same.
//
// # Large messages
//
// Each entry crosses pub/sub whole, and sits whole in every node's
// output buffer until that node reads it: Redis disconnects a subscriber
// whose buffer passes client-output-buffer-limit pubsub (32 MB at once
// by default). A node cut off that way subscribes again and reads the
// rooms it follows (Watch reports Lost), so nothing is lost, but bursts
// of large messages are better kept under that limit.
package redishistory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/redis/go-redis/v9"
)

// Options configures a Store.
type Options struct {
	// Prefix goes before every key and the feed's channel, to keep
	// applications that share a Redis apart. Defaults to "nows:h:": a
	// room's keys are then nows:h:{room}:s (its stream) and
	// nows:h:{room}:m (its epoch and offset), the feed nows:h:feed.
	Prefix string
}

// Store is a history.Store over Redis Streams. Its methods are safe for
// concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	feed   string // the pub/sub channel of every room's entries

	pingAfter, stallAfter time.Duration // the feed's health checks
}

var _ history.Store = (*Store)(nil)

// New returns a Store over rdb. The caller keeps rdb and closes it after
// the hubs that use the Store have closed.
func New(rdb redis.UniversalClient, opts Options) *Store {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "nows:h:"
	}
	return &Store{rdb: rdb, prefix: prefix, feed: prefix + "feed", pingAfter: pingAfter, stallAfter: stallAfter}
}

// keys returns room's stream and meta keys. The room's name is escaped
// so that it neither ends the hash tag early nor collides with
// another's: '%', '{' and '}' become %25, %7B and %7D.
func (s *Store) keys(room string) []string {
	tag := s.prefix + "{" + keyEscaper.Replace(room) + "}"
	return []string{tag + ":s", tag + ":m"}
}

var keyEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

var errLimits = errors.New("redishistory: Limits.Size and Limits.TTL must be positive")

// Append implements history.Store.
func (s *Store) Append(ctx context.Context, room string, m history.Entry, lim history.Limits) (history.Entry, error) {
	if lim.Size <= 0 || lim.TTL <= 0 {
		return history.Entry{}, errLimits
	}
	v, err := s.appendOnce(ctx, s.keys(room), m.Data, flag(m.Binary), m.Except,
		lim.Size, millis(lim.TTL), millis(metaOf(lim)), random(), s.feed, room)
	if err != nil {
		return history.Entry{}, fmt.Errorf("redishistory: append to room %q: %w", room, err)
	}
	epoch, top, us, err := head(v)
	if err != nil {
		return history.Entry{}, fmt.Errorf("redishistory: append to room %q: %w", room, err)
	}
	return history.Entry{Binary: m.Binary, Data: slices.Clone(m.Data), Except: m.Except,
		Pos: history.Position{Epoch: epoch, Offset: top}, Prev: top - 1, Time: time.UnixMicro(us)}, nil
}

// appendOnce runs appendScript, never twice: go-redis sends a command
// again when its reply is lost (a connection dropped after Redis ran
// it), which would store the message twice. So an error may come from a
// script that ran: the entry is then stored and on the feed.
func (s *Store) appendOnce(ctx context.Context, keys []string, args ...any) ([]any, error) {
	run := func(cmd, body string) *redis.Cmd {
		c := noRetry{redis.NewCmd(ctx, slices.Concat([]any{cmd, body, len(keys)}, anys(keys), args)...)}
		_ = s.rdb.Process(ctx, c)
		return c.Cmd
	}
	c := run("evalsha", appendScript.Hash())
	if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") { // the script did not run
		c = run("eval", appendSrc)
	}
	return c.Slice()
}

// noRetry is a command that go-redis sends once.
type noRetry struct{ *redis.Cmd }

// NoRetry tells go-redis not to send the command again.
func (noRetry) NoRetry() bool { return true }

// anys returns ss as command arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Since implements history.Store. The window is checked here, exactly,
// against the server's clock: the stream itself is trimmed lazily
// (MAXLEN ~) and expires whole.
func (s *Store) Since(ctx context.Context, room string, since history.Position, limit int, lim history.Limits) (history.Result, error) {
	if lim.Size <= 0 || lim.TTL <= 0 {
		return history.Result{}, errLimits
	}
	// One entry at least, to tell whether the next one is still kept.
	count := min(max(limit, 1), lim.Size)
	v, err := sinceScript.Run(ctx, s.rdb, s.keys(room), since.Epoch, strconv.FormatUint(since.Offset, 10),
		count, millis(metaOf(lim)), random()).Slice()
	if err != nil {
		return history.Result{}, fmt.Errorf("redishistory: read room %q: %w", room, err)
	}
	epoch, top, now, err := head(v)
	if err == nil && len(v) != 4 {
		err = fmt.Errorf("unexpected reply %v", v)
	}
	if err != nil {
		return history.Result{}, fmt.Errorf("redishistory: read room %q: %w", room, err)
	}
	res := history.Result{Top: history.Position{Epoch: epoch, Offset: top}}
	res.Reason = outside(since, res.Top, lim.Size)
	if res.Reason != "" || since.Epoch == "" || since.Offset == top {
		return res, nil
	}
	es, err := entries(v[3], epoch, since.Offset)
	if err != nil {
		return history.Result{}, fmt.Errorf("redishistory: read room %q: %w", room, err)
	}
	if len(es) == 0 || time.UnixMicro(now).Sub(es[0].Time) >= lim.TTL {
		res.Reason = history.ReasonTooOld
		return res, nil
	}
	res.Entries = es[:min(max(limit, 0), len(es))]
	return res, nil
}

// outside says why since cannot be recovered from a room at top that
// keeps size entries, as far as their offsets tell; "" if it may be.
func outside(since, top history.Position, size int) history.Reason {
	switch {
	case since.Epoch == "":
		return ""
	case since.Epoch != top.Epoch || since.Offset > top.Offset:
		return history.ReasonEpoch
	case top.Offset-since.Offset > uint64(size):
		return history.ReasonTooOld
	}
	return ""
}

// head reads the epoch, the offset and the time in µs that both scripts
// return first.
func head(v []any) (string, uint64, int64, error) {
	if len(v) < 3 {
		return "", 0, 0, fmt.Errorf("unexpected reply %v", v)
	}
	epoch, ok := v[0].(string)
	top, ok2 := v[1].(int64)
	us, err := strconv.ParseInt(fmt.Sprint(v[2]), 10, 64)
	if !ok || !ok2 || top < 0 || err != nil {
		return "", 0, 0, fmt.Errorf("unexpected reply %v", v)
	}
	return epoch, uint64(top), us, nil
}

// entries turns XRANGE's reply into entries that chain from after,
// stopping at the first that does not (an entry trimmed in between).
func entries(v any, epoch string, after uint64) ([]history.Entry, error) {
	rows, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected entries %T", v)
	}
	es := make([]history.Entry, 0, len(rows))
	for _, row := range rows {
		e, err := entry(row, epoch)
		if err != nil {
			return nil, err
		}
		if e.Pos.Offset != after+1 {
			break
		}
		e.Prev, after = after, e.Pos.Offset
		es = append(es, e)
	}
	return es, nil
}

// entry reads one stream entry: its ID "<offset>-0" and its fields.
func entry(row any, epoch string) (history.Entry, error) {
	r, ok := row.([]any)
	if !ok || len(r) != 2 {
		return history.Entry{}, fmt.Errorf("unexpected stream entry %v", row)
	}
	id, _ := r[0].(string)
	fields, _ := r[1].([]any)
	offset, err := strconv.ParseUint(strings.TrimSuffix(id, "-0"), 10, 64)
	if err != nil || len(fields)%2 != 0 {
		return history.Entry{}, fmt.Errorf("unexpected stream entry %q", id)
	}
	e := history.Entry{Pos: history.Position{Epoch: epoch, Offset: offset}}
	for i := 0; i < len(fields); i += 2 {
		k, _ := fields[i].(string)
		val, _ := fields[i+1].(string)
		switch k {
		case "d":
			e.Data = []byte(val)
		case "b":
			e.Binary = val == "1"
		case "x":
			e.Except = val
		case "t":
			us, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return history.Entry{}, fmt.Errorf("stream entry %q: bad time %q", id, val)
			}
			e.Time = time.UnixMicro(us)
		}
	}
	return e, nil
}

// metaOf returns how long a room's epoch and offset outlive its last
// message: Limits.Meta, 24 h by default, at least the TTL.
func metaOf(lim history.Limits) time.Duration {
	m := lim.Meta
	if m <= 0 {
		m = 24 * time.Hour
	}
	return max(m, lim.TTL)
}

// millis returns d in milliseconds for PEXPIRE, at least 1.
func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// flag returns the stream's and the feed's binary field: "1" or "0".
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// random returns the random part of a new epoch: 4 bytes in hex, as the
// memory store's. It is made here, not in the script: Redis seeds a
// script's math.random the same way every time.
func random() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
