package admin

import (
	"bytes"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// Until Start listens, the metrics count nothing: an app run with
// --admin-addr "" pays one check per event.
func TestGateCountsOnlyWhileListening(t *testing.T) {
	var opts framework.Options
	l := New(&opts)
	received := framework.Event{Kind: framework.EventReceived, Route: "/r", Bytes: 5}
	opts.Observer.Observe(received)
	snap, err := l.metrics.Snapshot(1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte(`"messages_in":1`)) {
		t.Fatalf("counted before Start: %s", snap)
	}
	l.on.Store(true) // what Start does once it listens
	opts.Observer.Observe(received)
	if snap, _ = l.metrics.Snapshot(1, 10); !bytes.Contains(snap, []byte(`"messages_in":1`)) {
		t.Fatalf("not counted while listening: %s", snap)
	}
}
