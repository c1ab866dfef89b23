package blueprints_test

import (
	"log/slog"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/jsonrpc/blueprints"
	"github.com/nowebsocket/nows/framework"
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

func TestRPC(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	testCases := []struct {
		name, send, want string
	}{
		{"add", `{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":2,"b":3.5}}`,
			`{"jsonrpc":"2.0","id":1,"result":5.5}`},
		{"string id", `{"jsonrpc":"2.0","id":"req-7","method":"upper","params":{"text":"héllo"}}`,
			`{"jsonrpc":"2.0","id":"req-7","result":"HÉLLO"}`},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"add","params":{"a":0,"b":0}}`,
			`{"jsonrpc":"2.0","id":null,"result":0}`},
		{"unknown method", `{"jsonrpc":"2.0","id":2,"method":"divide","params":{}}`,
			`{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"method not found: divide"}}`},
		{"missing param", `{"jsonrpc":"2.0","id":3,"method":"add","params":{"a":1}}`,
			`{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"add needs numbers a and b"}}`},
		{"wrong param type", `{"jsonrpc":"2.0","id":4,"method":"add","params":{"a":"1","b":2}}`,
			`{"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"invalid params: json: cannot unmarshal string into Go struct field AddParams.a of type float64"}}`},
		{"unknown param", `{"jsonrpc":"2.0","id":5,"method":"upper","params":{"txt":"x"}}`,
			`{"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"invalid params: json: unknown field \"txt\""}}`},
		{"positional params", `{"jsonrpc":"2.0","id":6,"method":"add","params":[1,2]}`,
			`{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"invalid params: json: cannot unmarshal array into Go value of type blueprints.AddParams"}}`},
		{"parse error", `{"jsonrpc":"2.0",`,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`},
		{"not version 2.0", `{"jsonrpc":"1.0","id":8,"method":"add"}`,
			`{"jsonrpc":"2.0","id":8,"error":{"code":-32600,"message":"invalid request: want \"jsonrpc\":\"2.0\", a method and a string or number id"}}`},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"add"}`,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: want \"jsonrpc\":\"2.0\", a method and a string or number id"}}`},
		{"not an object", `42`,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}`},
		{"empty batch", `[]`,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"empty batch"}}`},
	}
	c := srv.Dial(t, "/rpc")
	for _, tc := range testCases {
		c.SendText(tc.send)
		if got := c.ReadText(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	c.Close()
}

// TestRPCNotifications checks that notifications change state but get no
// answer: the next message read is the answer to the next request.
func TestRPCNotifications(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	c := srv.Dial(t, "/rpc")
	c.SendText(`{"jsonrpc":"2.0","method":"counter.add","params":{"n":5}}`)
	c.SendText(`{"jsonrpc":"2.0","method":"counter.add","params":{"n":2}}`)
	c.SendText(`{"jsonrpc":"2.0","method":"no.such.method"}`) // not answered either
	c.SendText(`{"jsonrpc":"2.0","id":1,"method":"counter.get"}`)
	c.ExpectText(`{"jsonrpc":"2.0","id":1,"result":7}`)

	// State is per connection.
	other := srv.Dial(t, "/rpc")
	other.SendText(`{"jsonrpc":"2.0","id":1,"method":"counter.get"}`)
	other.ExpectText(`{"jsonrpc":"2.0","id":1,"result":0}`)
	other.Close()
	c.Close()
}

func TestRPCBatch(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, rpc(t))
	c := srv.Dial(t, "/rpc")
	c.SendText(`[
		{"jsonrpc":"2.0","id":1,"method":"counter.add","params":{"n":3}},
		{"jsonrpc":"2.0","method":"counter.add","params":{"n":4}},
		{"jsonrpc":"2.0","id":2,"method":"nope"},
		{"jsonrpc":"2.0","id":3,"method":"counter.get"}
	]`)
	var answers []struct {
		ID     int
		Result *int
		Error  *struct{ Code int }
	}
	c.ReadJSON(&answers)
	if len(answers) != 3 {
		t.Fatalf("got %d answers, want 3 (the notification gets none)", len(answers))
	}
	if a := answers[0]; a.ID != 1 || a.Result == nil || *a.Result != 3 {
		t.Errorf("answer 1: got %+v, want result 3", a)
	}
	if a := answers[1]; a.ID != 2 || a.Error == nil || a.Error.Code != -32601 {
		t.Errorf("answer 2: got %+v, want error -32601", a)
	}
	if a := answers[2]; a.ID != 3 || a.Result == nil || *a.Result != 7 {
		t.Errorf("answer 3: got %+v, want result 7", a)
	}

	// A batch of notifications only gets no answer at all.
	c.SendText(`[{"jsonrpc":"2.0","method":"counter.add","params":{"n":1}}]`)
	c.SendText(`{"jsonrpc":"2.0","id":4,"method":"counter.get"}`)
	c.ExpectText(`{"jsonrpc":"2.0","id":4,"result":8}`)

	c.SendBinary([]byte{1, 2, 3}) // no OnBinary
	c.ExpectClose(websocket.StatusUnsupportedData)
}
