package framework

import (
	"encoding/binary"
	"errors"

	"github.com/coder/websocket"
)

// hubTopic is the broker topic every hub and Publisher uses. Broker
// adapters put their own prefix in front of it.
const hubTopic = "nows.hub"

// The kinds of hub envelope.
const (
	kindRoom           = 1  // a broadcast to a room (id: the connection left out)
	kindAll            = 2  // a broadcast to every connection
	kindDisconnectRoom = 3  // close every connection in room (code, user: reason)
	kindDisconnectUser = 4  // close every connection whose user is room
	kindJoin           = 5  // presence: id (user) joined room; seq numbers it
	kindLeave          = 6  // presence: id left room
	kindHeartbeat      = 7  // presence: node alive, its last change is seq
	kindSyncRequest    = 8  // presence: node id (every node if "") must send its state
	kindState          = 9  // presence: the full state of node at seq, in data
	kindBye            = 10 // presence: node is shutting down
	kindChunk          = 11 // part of an envelope over the broker's limit: seq numbers it; data: chunk header, bytes
	kindStatePage      = 12 // presence: one page of node's state at seq; data: page header, triples
)

// An envelope over the broker's payload limit (NATS: 1 MiB by default) goes
// out as kindChunk envelopes, one after the other from the publishing
// goroutine, so that a receiver sees the chunks of one sender contiguous
// and in order: it keeps at most one partial message per sender node. A
// presence state goes out as kindStatePage envelopes, each a whole number
// of (room, id, user) triples, so that no page is over stateMaxPage.
// Both headers are uvarints in front of data: a chunk's index and count; a
// page's state number, index and count.

// envelopeOverhead bounds what encodeEnvelope adds to the data of a chunk
// or page envelope (empty room, id and user) besides the node ID, with
// room for the chunk or page header.
const envelopeOverhead = 2 + pubLen + 4*binary.MaxVarintLen16 + 3*binary.MaxVarintLen64 + 3*binary.MaxVarintLen64

// appendUvarints appends the uvarints vs.
func appendUvarints(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// decodeUvarints reads n uvarints from the front of b and returns the rest.
func decodeUvarints(b []byte, n int) ([]uint64, []byte, error) {
	d := decoder{b: b}
	vs := make([]uint64, n)
	for i := range vs {
		vs[i] = d.uvarint()
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	return vs, d.b, nil
}

// Version 2 numbers every envelope a node publishes (pub: 1, 2, ...), so
// that a receiver counts the ones it missed (missed.go); it is version 1
// with pub after the kind, 8 bytes big-endian, set when the envelope is
// published. Version 1 envelopes, of earlier nodes, are still read, with
// pub 0: not numbered. Earlier nodes cannot read version 2, so during a
// rolling upgrade a node that has heard a version 1 envelope in the last
// legacyIntervals presence intervals publishes version 1 (toV1), without
// numbers.
const (
	envelopeVersion = 2
	envelopeV1      = 1
	pubLen          = 8
)

// envelope is what hubs and publishers send each other through a broker.
type envelope struct {
	kind byte
	pub  uint64 // its number among what its node published; 0: none
	node string // the sender's node ID: a node skips its own envelopes
	room string
	id   string
	user string
	seq  uint64
	code uint16
	typ  websocket.MessageType
	data []byte
}

var errBadEnvelope = errors.New("framework: malformed hub envelope")

// encodeEnvelope encodes e compactly: version, kind, pub (8 bytes), four
// length-prefixed strings, seq, code and type as uvarints, then data to
// the end.
func encodeEnvelope(e *envelope) []byte {
	n := 2 + pubLen + 4*binary.MaxVarintLen16 + len(e.node) + len(e.room) + len(e.id) + len(e.user) +
		3*binary.MaxVarintLen64 + len(e.data)
	b := make([]byte, 0, n)
	b = append(b, envelopeVersion, e.kind)
	b = binary.BigEndian.AppendUint64(b, e.pub)
	b = appendString(b, e.node)
	b = appendString(b, e.room)
	b = appendString(b, e.id)
	b = appendString(b, e.user)
	b = binary.AppendUvarint(b, e.seq)
	b = binary.AppendUvarint(b, uint64(e.code))
	b = binary.AppendUvarint(b, uint64(e.typ))
	return append(b, e.data...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// setPub numbers the encoded envelope p.
func setPub(p []byte, pub uint64) {
	binary.BigEndian.PutUint64(p[2:2+pubLen], pub)
}

// legacyIntervals is how long, in presence intervals, a node keeps
// publishing version 1 after it last heard a version 1 envelope.
const legacyIntervals = 3

// toV1 returns the encoded envelope p in version 1: without its number.
func toV1(p []byte) []byte {
	q := make([]byte, len(p)-pubLen)
	q[0], q[1] = envelopeV1, p[1]
	copy(q[2:], p[2+pubLen:])
	return q
}

// decodeEnvelope decodes what encodeEnvelope made, or a version 1
// envelope. e.data aliases b.
func decodeEnvelope(b []byte) (*envelope, error) {
	if len(b) < 2 || b[0] != envelopeVersion && b[0] != envelopeV1 {
		return nil, errBadEnvelope
	}
	e := &envelope{kind: b[1]}
	rest := b[2:]
	if b[0] == envelopeVersion {
		if len(rest) < pubLen {
			return nil, errBadEnvelope
		}
		e.pub = binary.BigEndian.Uint64(rest)
		rest = rest[pubLen:]
	}
	d := decoder{b: rest}
	e.node = d.string()
	e.room = d.string()
	e.id = d.string()
	e.user = d.string()
	e.seq = d.uvarint()
	code := d.uvarint()
	typ := d.uvarint()
	if d.err != nil || code > 0xffff || typ > 2 {
		return nil, errBadEnvelope
	}
	e.code, e.typ, e.data = uint16(code), websocket.MessageType(typ), d.b
	return e, nil
}

// decodeState decodes the (room, id, user) triples of a state envelope.
func decodeState(b []byte) ([]stateEntry, error) {
	d := decoder{b: b}
	var entries []stateEntry
	for len(d.b) > 0 && d.err == nil {
		entries = append(entries, stateEntry{room: d.string(), id: d.string(), user: d.string()})
	}
	if d.err != nil {
		return nil, d.err
	}
	return entries, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadEnvelope
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errBadEnvelope
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
