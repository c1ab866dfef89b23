package framework

import (
	"errors"
	"math"
	"time"
)

// This file holds the per-connection rate limits, Options.MessageRate and
// Options.ByteRate. Bytes are counted in the wire layer (netconn.go), where
// every byte the client sends passes, so control frames, frame headers and
// compressed payloads count too and a flood is stopped before coder
// buffers it; what the budget allows is still handed over. Messages are
// counted by the read loop as each one begins, so the messages within the
// budget are all delivered. A connection over a limit is closed with 1008
// Policy Violation and CauseRateLimit.
//
// The buckets are plain fields, not golang.org/x/time/rate: each is used
// by one goroutine at a time (the message bucket by the read loop, the
// byte bucket by whoever reads through coder, which serialises its reads),
// so they need no lock, no allocation per read, and a take larger than the
// burst must fail (rate's AllowN does that too, but with a mutex and an API
// built for waiting).

// errRateLimit is what the wire layer hands coder when a limit is exceeded.
var errRateLimit = errors.New("framework: rate limit exceeded")

// rateLimitReason is the close reason sent with 1008.
const rateLimitReason = "rate limit exceeded"

// tokenBucket holds up to burst tokens and gains rate tokens per second.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// refill adds the tokens gained since the last call.
func (b *tokenBucket) refill(now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
}

// take removes n tokens at now, or reports false when there are fewer
// than n.
func (b *tokenBucket) take(n float64, now time.Time) bool {
	b.refill(now)
	if n > b.tokens {
		return false
	}
	b.tokens -= n
	return true
}

// takeUpTo removes up to n whole tokens at now and returns how many.
func (b *tokenBucket) takeUpTo(n int, now time.Time) int {
	b.refill(now)
	k := n
	if float64(n) > b.tokens {
		k = int(b.tokens)
	}
	b.tokens -= float64(k)
	return k
}

// rateLimiter is one connection's buckets; a zero bucket is no limit.
type rateLimiter struct {
	msgs, bytes tokenBucket
}

// allowBytes takes up to n bytes at now and returns how many may pass.
func (l *rateLimiter) allowBytes(now time.Time, n int) int {
	if l.bytes.rate <= 0 {
		return n
	}
	return l.bytes.takeUpTo(n, now)
}

// allowMessage takes one message at now.
func (l *rateLimiter) allowMessage(now time.Time) bool {
	return l.msgs.rate <= 0 || l.msgs.take(1, now)
}

// limitMessage applies Options.MessageRate to a message that has just
// begun (from the read loop, before any of it is read): over the limit,
// the connection is closed with 1008. It runs outside coder's read lock,
// while a close handshake on another goroutine may be reading, so it
// touches only c.wire.rate (set once) and the message bucket.
func (c *Conn) limitMessage() (CloseStatus, bool) {
	if c.wire.rate == nil || c.wire.rate.allowMessage(time.Now()) {
		return CloseStatus{}, true
	}
	c.wire.setCause(CauseRateLimit)
	return c.readFailed(errRateLimit), false
}

// rateBursts returns MessageBurst and ByteBurst with their defaults.
func rateBursts(o Options) (int, int64) {
	mb, bb := o.MessageBurst, o.ByteBurst
	if o.MessageRate > 0 && mb <= 0 {
		mb = max(1, int(math.Ceil(o.MessageRate)))
	}
	if o.ByteRate > 0 && bb <= 0 {
		bb = o.ByteRate
	}
	return mb, bb
}

// newRateLimiter returns a full pair of buckets for a new connection, or
// nil when the server has no rate limit.
func (s *Server) newRateLimiter() *rateLimiter {
	if s.opts.MessageRate <= 0 && s.opts.ByteRate <= 0 {
		return nil
	}
	now := time.Now()
	l := &rateLimiter{}
	if s.opts.MessageRate > 0 {
		b := float64(s.opts.MessageBurst)
		l.msgs = tokenBucket{rate: s.opts.MessageRate, burst: b, tokens: b, last: now}
	}
	if s.opts.ByteRate > 0 {
		b := float64(s.opts.ByteBurst)
		l.bytes = tokenBucket{rate: float64(s.opts.ByteRate), burst: b, tokens: b, last: now}
	}
	return l
}
