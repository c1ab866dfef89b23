package framework

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestEnvelopeVersions: a version 2 envelope carries its number; a version
// 1 envelope, as earlier nodes encode it, is still read (number 0); toV1
// makes one.
func TestEnvelopeVersions(t *testing.T) {
	e := &envelope{kind: kindRoom, node: "n1", room: "r", id: "n1.5", seq: 7, typ: websocket.MessageText, data: []byte("hi")}
	p := encodeEnvelope(e)
	setPub(p, 1<<40+3)
	got, err := decodeEnvelope(p)
	if err != nil || got.pub != 1<<40+3 || got.node != "n1" || got.room != "r" || got.id != "n1.5" || got.seq != 7 || string(got.data) != "hi" {
		t.Fatalf("version 2: %+v, %v", got, err)
	}

	// Version 1, byte by byte: version, kind, four strings, seq, code,
	// type, data.
	v1 := []byte{envelopeV1, kindRoom}
	for _, s := range []string{"n1", "r", "n1.5", ""} {
		v1 = binary.AppendUvarint(v1, uint64(len(s)))
		v1 = append(v1, s...)
	}
	v1 = append(binary.AppendUvarint(v1, 7), 0, byte(websocket.MessageText))
	v1 = append(v1, "hi"...)
	if conv := toV1(p); !bytes.Equal(conv, v1) {
		t.Fatalf("toV1 = %q, want %q", conv, v1)
	}
	got, err = decodeEnvelope(v1)
	if err != nil || got.pub != 0 || got.node != "n1" || got.room != "r" || got.id != "n1.5" || got.seq != 7 || string(got.data) != "hi" {
		t.Fatalf("version 1: %+v, %v", got, err)
	}
	if _, err := decodeEnvelope(append([]byte{3}, v1[1:]...)); err == nil {
		t.Fatal("version 3 decoded")
	}
	if _, err := decodeEnvelope([]byte{envelopeVersion, kindRoom, 0, 0}); err == nil {
		t.Fatal("a version 2 envelope cut in its number decoded")
	}
}

// TestRollingUpgrade: a node publishes numbered version 2 envelopes until
// it hears a version 1 envelope (a node of an earlier version, which
// cannot read version 2); then it publishes version 1.
func TestRollingUpgrade(t *testing.T) {
	ctx := context.Background()
	mb := NewMemoryBroker()
	var mu sync.Mutex
	var seen [][]byte
	sub, err := mb.Subscribe(ctx, hubTopic, func(p []byte) {
		mu.Lock()
		seen = append(seen, bytes.Clone(p))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	h := NewHub(HubOptions{Broker: mb, Node: "new", PresenceInterval: time.Second})
	defer h.Close()
	h.Members("r") // starts the hub: it subscribes
	published := func(text string) []byte {
		t.Helper()
		if err := h.Broadcast(ctx, "r", Text(text)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range seen {
			if e, err := decodeEnvelope(p); err == nil && e.kind == kindRoom && string(e.data) == text {
				return p
			}
		}
		t.Fatalf("%q not published", text)
		return nil
	}
	if p := published("a"); p[0] != envelopeVersion || binary.BigEndian.Uint64(p[2:]) == 0 {
		t.Fatalf("before any version 1 envelope: version %d, number %d; want version 2, numbered", p[0], binary.BigEndian.Uint64(p[2:]))
	}
	old := toV1(encodeEnvelope(&envelope{kind: kindHeartbeat, node: "old"}))
	if err := mb.Publish(ctx, hubTopic, old); err != nil {
		t.Fatal(err)
	}
	if p := published("b"); p[0] != envelopeV1 {
		t.Fatalf("after an old node's heartbeat: version %d, want 1", p[0])
	}
	if ms := h.Members("r"); len(ms) != 0 {
		t.Fatalf("members %v", ms)
	}
}
