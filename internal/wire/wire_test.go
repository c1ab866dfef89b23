package wire_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/internal/wire"
)

// TestEncodeBytes pins the bytes of docs/protocol.md.
func TestEncodeBytes(t *testing.T) {
	must := func(b []byte, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type chat struct {
		Name string `json:"name"`
		Text string `json:"text"`
	}
	tests := []struct{ got, want string }{
		{must(wire.EncodeEvent("chat.message", 0, chat{"ada", "hi"})), `{"event":"chat.message","data":{"name":"ada","text":"hi"}}`},
		{must(wire.EncodeEvent("ping.me", 1, map[string]int{"nonce": 7})), `{"event":"ping.me","id":1,"data":{"nonce":7}}`},
		{must(wire.EncodeReply(3, map[string]int{"id": 42})), `{"reply":3,"data":{"id":42}}`},
		{string(wire.EncodeError(3, &wire.Error{Code: wire.CodeBadPayload, Message: "data.text: want string, got number", Event: "chat.send", Field: "text"})),
			`{"reply":3,"error":{"code":"bad_payload","message":"data.text: want string, got number","event":"chat.send","field":"text"}}`},
		{string(wire.EncodeError(0, &wire.Error{Code: wire.CodeUnknownEvent, Message: `unknown event "chat.sedn"`, Event: "chat.sedn"})),
			`{"error":{"code":"unknown_event","message":"unknown event \"chat.sedn\"","event":"chat.sedn"}}`},
		{must(wire.EncodeEvent("nows.join", 1, map[string]string{"room": "lobby"})), `{"event":"nows.join","id":1,"data":{"room":"lobby"}}`},
		{must(wire.EncodeEvent("tick", 0, nil)), `{"event":"tick"}`},
		{must(wire.EncodeReply(9, nil)), `{"reply":9,"data":null}`},
		{must(wire.EncodeEvent("html", 0, "<a&b>")), `{"event":"html","data":"<a&b>"}`},
		{string(wire.Encode(&wire.Envelope{Event: "e", ID: wire.MaxID, Data: json.RawMessage(`[1]`)})), `{"event":"e","id":9007199254740991,"data":[1]}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		in   string
		want wire.Envelope
	}{
		{`{"event":"chat.send","id":3,"data":{"text":"hi"}}`, wire.Envelope{Event: "chat.send", ID: 3, Data: json.RawMessage(`{"text":"hi"}`)}},
		{` {"event":"typing","extra":[1,2]} `, wire.Envelope{Event: "typing"}},
		{`{"reply":9007199254740991,"data":null}`, wire.Envelope{Reply: wire.MaxID, Data: json.RawMessage(`null`)}},
		{`{"reply":2,"error":{"code":"nope","message":"no"}}`, wire.Envelope{Reply: 2, Error: &wire.Error{Code: "nope", Message: "no"}}},
	}
	for _, tt := range tests {
		got, err := wire.Decode([]byte(tt.in))
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		if string(wire.Encode(got)) != string(wire.Encode(&tt.want)) {
			t.Errorf("Decode(%s) = %s, want %s", tt.in, wire.Encode(got), wire.Encode(&tt.want))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ in, code, event string }{
		{`not json`, wire.CodeBadJSON, ""},
		{`[1,2]`, wire.CodeBadJSON, ""},
		{`"event"`, wire.CodeBadJSON, ""},
		{`{"event":"x"`, wire.CodeBadJSON, ""},
		{``, wire.CodeBadJSON, ""},
		{`{}`, wire.CodeBadEnvelope, ""},
		{`{"data":1}`, wire.CodeBadEnvelope, ""},
		{`{"event":""}`, wire.CodeBadEnvelope, ""},
		{`{"event":7}`, wire.CodeBadEnvelope, ""},
		{`{"event":"x","reply":1}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":0}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":-1}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":1.5}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":1e3}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":"1"}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":9007199254740992}`, wire.CodeBadEnvelope, "x"},
		{`{"event":"x","id":null}`, wire.CodeBadEnvelope, "x"},
		{`{"reply":0}`, wire.CodeBadEnvelope, ""},
		{`{"reply":1,"error":"boom"}`, wire.CodeBadEnvelope, ""},
	}
	for _, tt := range tests {
		_, err := wire.Decode([]byte(tt.in))
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != tt.code || we.Event != tt.event {
			t.Errorf("Decode(%s): err %v, want code %s event %q", tt.in, err, tt.code, tt.event)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	type msg struct {
		Text  string `json:"text"`
		Count int    `json:"count"`
		Inner struct {
			OK bool `json:"ok"`
		} `json:"inner"`
	}
	tests := []struct{ data, field, message string }{
		{`{"text":5}`, "text", "data.text: want string, got number"},
		{`{"count":1.5}`, "count", "data.count: want integer, got number"},
		{`{"inner":{"ok":"yes"}}`, "inner.ok", "data.inner.ok: want boolean, got string"},
		{`"hello"`, "", "data: want object, got string"},
	}
	for _, tt := range tests {
		var m msg
		err := wire.Unmarshal(json.RawMessage(tt.data), &m)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeBadPayload || we.Field != tt.field || we.Message != tt.message {
			t.Errorf("Unmarshal(%s) = %#v, want field %q message %q", tt.data, err, tt.field, tt.message)
		}
	}
	var m msg
	if err := wire.Unmarshal(json.RawMessage(`{"text":"hi","unknown":1}`), &m); err != nil || m.Text != "hi" {
		t.Errorf("unknown member: %v %+v", err, m)
	}
	if err := wire.Unmarshal(nil, &m); err != nil {
		t.Errorf("absent data: %v", err)
	}
	err := wire.Unmarshal(json.RawMessage(`{"text":`), &m)
	if we := (*wire.Error)(nil); !errors.As(err, &we) || we.Code != wire.CodeBadPayload {
		t.Errorf("truncated data: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	e := &wire.Error{Code: "invalid", Message: "text is empty", Event: "chat.send"}
	if got := e.Error(); got != "chat.send: invalid: text is empty" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&wire.Error{Code: "forbidden", Message: "no"}).Error(); !strings.HasPrefix(got, "forbidden: ") {
		t.Errorf("Error() = %q", got)
	}
}
