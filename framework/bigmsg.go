package framework

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// This file holds what crosses a broker's payload limit. A broker may tell
// the hub its limit through an optional method, MaxPayload() int (natsbroker
// does, from the NATS server's max_payload); a broker without it has no
// limit the hub knows of (Redis: 512 MB per message), and envelopes go out
// whole. An envelope over the limit goes out in chunks (kindChunk) and is
// put together again on the receivers; a broadcast that could not be put
// together within the receiver's bounds fails at the Broadcast call.

// payloadLimiter is the optional interface of a Broker with a payload limit.
type payloadLimiter interface{ MaxPayload() int }

// minChunk is the smallest chunk worth sending: below it, a broker's limit
// is taken as too small for chunking, and a broadcast over it fails.
const minChunk = 4 << 10

// chunkSlack is what a reassembled envelope may hold besides the message
// (room, IDs): receivers refuse larger ones.
const chunkSlack = 64 << 10

// brokerLimit returns the broker's payload limit, or 0 for none known.
func (h *Hub) brokerLimit() int {
	if b, ok := h.broker.(payloadLimiter); ok {
		return max(b.MaxPayload(), 0)
	}
	return 0
}

// chunkSize returns the data of one chunk under limit.
func (h *Hub) chunkSize(limit int) int {
	return limit - envelopeOverhead - len(h.opts.Node)
}

// maxReassembled is the largest message this node puts together from
// chunks, and the largest it sends in chunks: MaxMessageBytes, or its
// default for a hub of NewHub.
func (h *Hub) maxReassembled() int {
	if h.srv != nil {
		return int(h.srv.opts.MaxMessageBytes)
	}
	return defaultMaxMessageBytes
}

// checkSize returns an error, naming the limits, for an envelope the other
// nodes could not receive: over the broker's limit, and either too large
// to be sent in chunks or the limit too small for chunks.
func (h *Hub) checkSize(e *envelope) error {
	limit := h.brokerLimit()
	if h.broker == nil || limit <= 0 {
		return nil
	}
	if envelopeLen(e) <= limit {
		return nil
	}
	if h.chunkSize(limit) < minChunk {
		return fmt.Errorf("%w: %d bytes is over the broker's limit of %d bytes per message, too small to send it in chunks", ErrBadMessage, len(e.data), limit)
	}
	if len(e.data) > h.maxReassembled() {
		return fmt.Errorf("%w: %d bytes is over the broker's limit of %d bytes per message and over %d bytes (MaxMessageBytes), the most sent in chunks", ErrBadMessage, len(e.data), limit, h.maxReassembled())
	}
	return nil
}

// envelopeLen returns len(encodeEnvelope(e)).
func envelopeLen(e *envelope) int {
	n := 2 + pubLen + len(e.data)
	for _, s := range [...]string{e.node, e.room, e.id, e.user} {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n + uvarintLen(e.seq) + uvarintLen(uint64(e.code)) + uvarintLen(uint64(e.typ))
}

func uvarintLen(v uint64) int {
	var b [binaryMaxVarint]byte
	return len(binary.AppendUvarint(b[:0], v))
}

// publishPayload publishes p, an encoded envelope, in chunks when it is
// over the broker's limit, numbering each envelope it publishes (pub).
// pubMu keeps numbers and publications in one order (a hub of NewHub
// publishes from its callers' goroutines too), and the chunks of one
// payload together: receivers take a payload of another sender's
// between them as a loss.
func (h *Hub) publishPayload(ctx context.Context, p []byte) error {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	legacy := h.legacy()
	limit := h.brokerLimit()
	if limit <= 0 || len(p) <= limit {
		if legacy {
			return h.broker.Publish(ctx, hubTopic, toV1(p))
		}
		setPub(p, h.nextPub())
		return h.broker.Publish(ctx, hubTopic, p)
	}
	if legacy {
		p = toV1(p)
	}
	size := h.chunkSize(limit)
	if size < minChunk {
		return fmt.Errorf("%d-byte message over the broker's limit of %d bytes, too small for chunks", len(p), limit)
	}
	h.chunkSeq++
	count := (len(p) + size - 1) / size
	data := make([]byte, 0, size+2*binaryMaxVarint)
	for i := range count {
		part := p[i*size : min(len(p), (i+1)*size)]
		data = append(appendUvarints(data[:0], uint64(i), uint64(count)), part...)
		e := &envelope{kind: kindChunk, node: h.opts.Node, seq: h.chunkSeq, data: data}
		c := encodeEnvelope(e)
		if legacy {
			c = toV1(c)
		} else {
			setPub(c, h.nextPub())
		}
		if err := h.broker.Publish(ctx, hubTopic, c); err != nil {
			return fmt.Errorf("chunk %d of %d: %w", i+1, count, err)
		}
	}
	return nil
}

const binaryMaxVarint = 10

// partialMsg is the message being put together from one node's chunks.
type partialMsg struct {
	seq   uint64
	next  uint64 // the index of the next chunk
	count uint64
	buf   []byte
	last  time.Time // when the last chunk came
	dead  bool      // lost: its chunks are skipped (and counted once)
}

// onChunk adds a chunk to its sender's partial message, and handles the
// message once complete. A chunk out of sequence (a chunk lost, or the
// sender restarted) drops the partial message, as does a message over
// maxReassembled; every drop is counted and the first one logged.
func (h *Hub) onChunk(e *envelope) {
	if h.srv == nil {
		return // a hub of NewHub serves no connection
	}
	hdr, part, err := decodeUvarints(e.data, 2)
	if err != nil || hdr[1] == 0 || hdr[0] >= hdr[1] {
		h.badEnvelope(errBadEnvelope)
		return
	}
	idx, count := hdr[0], hdr[1]
	now := time.Now()
	h.rxMu.Lock()
	if h.partials == nil {
		h.partials = make(map[string]*partialMsg)
	}
	p := h.partials[e.node]
	if idx == 0 {
		if p != nil && !p.dead {
			h.dropChunked(e.node, "superseded")
		}
		p = &partialMsg{seq: e.seq, count: count}
		h.partials[e.node] = p
	} else if p == nil || p.seq != e.seq || p.next != idx || p.count != count || p.dead {
		if p == nil || p.seq != e.seq || !p.dead {
			h.dropChunked(e.node, "chunk lost")
		}
		h.partials[e.node] = &partialMsg{seq: e.seq, dead: true, last: now}
		h.rxMu.Unlock()
		return
	}
	if len(p.buf)+len(part) > h.maxReassembled()+chunkSlack {
		h.dropChunked(e.node, "over MaxMessageBytes")
		h.partials[e.node] = &partialMsg{seq: e.seq, dead: true, last: now}
		h.rxMu.Unlock()
		return
	}
	p.buf = append(p.buf, part...)
	p.next++
	p.last = now
	if p.next < p.count {
		h.rxMu.Unlock()
		return
	}
	delete(h.partials, e.node)
	h.rxMu.Unlock()
	inner, err := decodeEnvelope(p.buf)
	if err != nil || inner.kind == kindChunk || inner.node != e.node {
		h.badEnvelope(errBadEnvelope)
		return
	}
	h.handle(inner)
}

// dropChunked counts a chunked message dropped, logging the first. h.rxMu
// is held.
func (h *Hub) dropChunked(node, why string) {
	if h.counters.chunksDropped.Add(1) == 1 {
		h.log.Warn("nows: hub: dropped an incomplete cross-node message", "from", node, "why", why)
	}
}

// expirePartials drops the partial messages whose next chunk has not come
// within three presence intervals.
func (h *Hub) expirePartials(now time.Time) {
	ttl := 3 * h.opts.PresenceInterval
	h.rxMu.Lock()
	defer h.rxMu.Unlock()
	for node, p := range h.partials {
		if now.Sub(p.last) > ttl {
			if !p.dead {
				h.dropChunked(node, "timed out")
			}
			delete(h.partials, node)
		}
	}
}
