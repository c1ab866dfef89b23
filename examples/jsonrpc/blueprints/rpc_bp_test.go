package blueprints_test

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/jsonrpc/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rpc is the blueprint as main makes it, with the handlers' logs in t.Log.
func rpc(t *testing.T) *framework.Blueprint {
	return blueprints.RPC(&blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
}

// dial connects to /rpc offering nows.v1, as nows.js and framework/client
// do.
func dial(t *testing.T, srv *wstest.Server) *wstest.Client {
	t.Helper()
	c, _, err := srv.DialOptions(t, "/rpc", &websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Conn().Subprotocol(); got != events.Subprotocol {
		t.Fatalf("the server chose subprotocol %q, want %q", got, events.Subprotocol)
	}
	return c
}

// TestRPC pins the bytes of each answer: a result, the app's own error
// code, and the protocol's errors for an unknown event, a payload that
// fails its Validate, and a payload of the wrong type.
func TestRPC(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	testCases := []struct {
		name, send, want string
	}{
		{"add", `{"event":"add","id":1,"data":{"a":2,"b":3.5}}`,
			`{"reply":1,"data":5.5}`},
		{"upper", `{"event":"upper","id":2,"data":{"text":"héllo"}}`,
			`{"reply":2,"data":"HÉLLO"}`},
		{"divide", `{"event":"divide","id":3,"data":{"a":1,"b":4}}`,
			`{"reply":3,"data":0.25}`},
		{"the app's error", `{"event":"divide","id":4,"data":{"a":1,"b":0}}`,
			`{"reply":4,"error":{"code":"division_by_zero","message":"b is zero","event":"divide","field":"b"}}`},
		{"unknown event", `{"event":"mul","id":5,"data":{"a":1,"b":2}}`,
			`{"reply":5,"error":{"code":"unknown_event","message":"unknown event \"mul\"","event":"mul"}}`},
		{"missing operand", `{"event":"add","id":6,"data":{"a":1}}`,
			`{"reply":6,"error":{"code":"invalid","message":"want numbers a and b","event":"add"}}`},
		{"wrong type", `{"event":"add","id":7,"data":{"a":"1","b":2}}`,
			`{"reply":7,"error":{"code":"bad_payload","message":"data.a: want number, got string","event":"add","field":"a"}}`},
		{"unknown members are ignored", `{"event":"upper","id":8,"data":{"text":"x","txt":"y"},"extra":1}`,
			`{"reply":8,"data":"X"}`},
		{"the largest id", `{"event":"counter.get","id":9007199254740991}`,
			`{"reply":9007199254740991,"data":0}`},
	}
	c := dial(t, srv)
	for _, tc := range testCases {
		c.SendText(tc.send)
		if got := c.ReadText(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	c.Close()
}

// TestRPCEvents: an event (no id, like a JSON-RPC notification) changes
// state and gets no answer; one that fails gets an error without reply.
func TestRPCEvents(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	c := dial(t, srv)
	c.SendText(`{"event":"counter.add","id":1,"data":{"n":5}}`)
	c.ExpectText(`{"reply":1,"data":5}`)
	c.SendText(`{"event":"counter.reset"}`)
	c.SendText(`{"event":"counter.get","id":2}`)
	c.ExpectText(`{"reply":2,"data":0}`)

	c.SendText(`{"event":"no.such.event"}`)
	var e struct {
		Reply *int64
		Error struct{ Code, Event string }
	}
	c.ReadJSON(&e)
	if e.Reply != nil || e.Error.Code != "unknown_event" || e.Error.Event != "no.such.event" {
		t.Errorf("got %+v, want an unknown_event error without reply", e)
	}

	// State is per connection.
	other := dial(t, srv)
	other.SendText(`{"event":"counter.add","id":1,"data":{"n":2}}`)
	other.ExpectText(`{"reply":1,"data":2}`)
	other.Close()
	c.SendText(`{"event":"counter.add","id":3,"data":{"n":1}}`)
	c.ExpectText(`{"reply":3,"data":1}`)
	c.Close()
}

// TestRPCPipelined: requests sent before any reply is read are each
// answered with the id the client chose.
func TestRPCPipelined(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	c := dial(t, srv)
	c.SendText(`{"event":"counter.add","id":10,"data":{"n":3}}`)
	c.SendText(`{"event":"upper","id":11,"data":{"text":"a"}}`)
	c.SendText(`{"event":"counter.add","id":12,"data":{"n":4}}`)
	want := map[int64]string{10: "3", 11: `"A"`, 12: "7"}
	for range want {
		var r struct {
			Reply int64
			Data  json.RawMessage
		}
		c.ReadJSON(&r)
		if w, ok := want[r.Reply]; !ok || string(r.Data) != w {
			t.Errorf("got reply %d with %s, want one of %v", r.Reply, r.Data, want)
		}
		delete(want, r.Reply)
	}
	c.SendBinary([]byte{1, 2, 3}) // no OnBinary
	c.ExpectClose(websocket.StatusUnsupportedData)
}

// TestRPCPlain: a client that does not offer nows.v1 is a plain
// connection, and Session has no OnMessage: its first text closes it with
// 1003.
func TestRPCPlain(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	c := srv.Dial(t, "/rpc")
	c.SendText(`{"event":"add","id":1,"data":{"a":1,"b":2}}`)
	c.ExpectClose(websocket.StatusUnsupportedData)
}
