package wire_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/internal/wire"
)

const epoch = "188d2a3f5b9c0e41a7c3d2f0"

// TestEncodeHistoryBytes pins the bytes of internal/recovery/design.md §5.
func TestEncodeHistoryBytes(t *testing.T) {
	at := func(off uint64) history.Position { return history.Position{Epoch: epoch, Offset: off} }
	recovered, notRecovered := true, false
	chat, err := wire.EncodeEvent("chat.message", 0, map[string]string{"name": "ada", "text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	join, err := wire.EncodeEvent("nows.join", 1, wire.Join{Room: "lobby", Since: &history.Position{Epoch: epoch, Offset: 41}})
	if err != nil {
		t.Fatal(err)
	}
	reply := func(j wire.Joined) string {
		t.Helper()
		b, err := wire.EncodeReply(1, j)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unrec, err := wire.EncodeEvent(wire.EventUnrecovered, 0, wire.Unrecovered{Room: "lobby", Reason: history.ReasonTooOld, Pos: at(90)})
	if err != nil {
		t.Fatal(err)
	}
	p57, p3 := at(57), history.Position{Epoch: "188d2b07c1e4f2a39b0e6d14", Offset: 3}
	tests := []struct{ got, want string }{
		{string(wire.AppendRoom(chat, "lobby", at(58))),
			`{"event":"chat.message","data":{"name":"ada","text":"hi"},"room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":58}}`},
		{string(wire.EncodeText("lobby", []byte("hello, plain"), at(59))),
			`{"event":"nows.text","data":"hello, plain","room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":59}}`},
		{string(wire.EncodeBinary("lobby", []byte{0, 1, 2}, at(60))),
			`{"event":"nows.binary","data":"AAEC","room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":60}}`},
		{string(wire.EncodePos("lobby", at(61))),
			`{"event":"nows.pos","room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":61}}`},
		{string(join),
			`{"event":"nows.join","id":1,"data":{"room":"lobby","since":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":41}}}`},
		{reply(wire.Joined{Room: "lobby", Pos: &p57, Recovered: &recovered}),
			`{"reply":1,"data":{"room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":57},"recovered":true}}`},
		{reply(wire.Joined{Room: "lobby", Pos: &p3, Recovered: &notRecovered, Reason: history.ReasonEpoch}),
			`{"reply":1,"data":{"room":"lobby","pos":{"epoch":"188d2b07c1e4f2a39b0e6d14","offset":3},"recovered":false,"reason":"epoch"}}`},
		{reply(wire.Joined{Room: "lobby", Pos: &p57}),
			`{"reply":1,"data":{"room":"lobby","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":57}}}`},
		// A room without history: the reply and the join are today's.
		{reply(wire.Joined{Room: "lobby"}), `{"reply":1,"data":{"room":"lobby"}}`},
		{string(unrec),
			`{"event":"nows.unrecovered","data":{"room":"lobby","reason":"too_old","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":90}}}`},
		{string(wire.EncodeText("a\"b", []byte("<&>\n"), history.Position{Epoch: "e", Offset: wire.MaxID})),
			`{"event":"nows.text","data":"<&>\n","room":"a\"b","pos":{"epoch":"e","offset":9007199254740991}}`},
		{string(wire.EncodeBinary("r", nil, at(1))),
			`{"event":"nows.binary","data":"","room":"r","pos":{"epoch":"188d2a3f5b9c0e41a7c3d2f0","offset":1}}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
	if got := wire.AppendRoom(chat, "lobby", at(58)); &got[0] == &chat[0] || string(chat) != `{"event":"chat.message","data":{"name":"ada","text":"hi"}}` {
		t.Errorf("AppendRoom changed or reused its input: %s", chat)
	}
}

// TestDecodeRoomPos: room and pos decode, and encode back to the same
// bytes; wrong types are bad envelopes.
func TestDecodeRoomPos(t *testing.T) {
	for _, in := range []string{
		`{"event":"nows.text","data":"hi","room":"lobby","pos":{"epoch":"e1","offset":59}}`,
		`{"event":"nows.pos","room":"lobby","pos":{"epoch":"","offset":0}}`,
		`{"event":"x","pos":{"epoch":"e","offset":9007199254740991}}`,
	} {
		e, err := wire.Decode([]byte(in))
		if err != nil {
			t.Errorf("Decode(%s): %v", in, err)
			continue
		}
		if got := wire.Encode(e); string(got) != in {
			t.Errorf("Encode(Decode(%s)) = %s", in, got)
		}
	}
	e, err := wire.Decode([]byte(`{"event":"x","pos":{"offset":2,"epoch":"e","more":1}}`))
	if err != nil || e.Pos == nil || *e.Pos != (history.Position{Epoch: "e", Offset: 2}) {
		t.Errorf("pos with members in another order: %+v, %v", e, err)
	}
	for _, in := range []string{
		`{"event":"x","room":5}`,
		`{"event":"x","room":null}`,
		`{"event":"x","pos":1}`,
		`{"event":"x","pos":null}`,
		`{"event":"x","pos":{"epoch":"e"}}`,
		`{"event":"x","pos":{"offset":1}}`,
		`{"event":"x","pos":{"epoch":1,"offset":1}}`,
		`{"event":"x","pos":{"epoch":"e","offset":-1}}`,
		`{"event":"x","pos":{"epoch":"e","offset":1.5}}`,
		`{"event":"x","pos":{"epoch":"e","offset":"1"}}`,
		`{"event":"x","pos":{"epoch":"e","offset":9007199254740992}}`,
	} {
		_, err := wire.Decode([]byte(in))
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeBadEnvelope || we.Event != "x" {
			t.Errorf("Decode(%s): err %v, want bad_envelope for x", in, err)
		}
	}
}

func TestDecodeJoin(t *testing.T) {
	tests := []struct {
		data string
		want wire.Join
	}{
		{`{"room":"lobby"}`, wire.Join{Room: "lobby"}},
		{`{"room":"lobby","since":null}`, wire.Join{Room: "lobby"}},
		{`{"room":"lobby","since":{"epoch":"e","offset":0}}`, wire.Join{Room: "lobby", Since: &history.Position{Epoch: "e"}}},
		{`{"room":"lobby","since":{"epoch":"e","offset":41,"x":[]}}`, wire.Join{Room: "lobby", Since: &history.Position{Epoch: "e", Offset: 41}}},
	}
	for _, tt := range tests {
		got, err := wire.DecodeJoin(json.RawMessage(tt.data))
		if err != nil {
			t.Errorf("DecodeJoin(%s): %v", tt.data, err)
			continue
		}
		if got.Room != tt.want.Room || (got.Since == nil) != (tt.want.Since == nil) || (got.Since != nil && *got.Since != *tt.want.Since) {
			t.Errorf("DecodeJoin(%s) = %+v, want %+v", tt.data, got, tt.want)
		}
	}
	bad := []struct{ data, field string }{
		{`{"room":5}`, "room"},
		{`{"room":"r","since":5}`, "since"},
		{`{"room":"r","since":{"epoch":"e"}}`, "since"},
		{`{"room":"r","since":{"epoch":"e","offset":-3}}`, "since"},
		{`{"room":"r","since":{"epoch":"e","offset":9007199254740992}}`, "since"},
		{`{"room":"r","since":{"epoch":null,"offset":1}}`, "since"},
		{`"lobby"`, ""},
	}
	for _, tt := range bad {
		_, err := wire.DecodeJoin(json.RawMessage(tt.data))
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeBadPayload || we.Field != tt.field {
			t.Errorf("DecodeJoin(%s) = %v, want bad_payload on %q", tt.data, err, tt.field)
		}
	}
}
