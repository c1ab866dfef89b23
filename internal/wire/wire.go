// Package wire is the envelope of the nows.v1 event protocol
// (docs/protocol.md), shared by the server (framework/events) and the Go
// client (framework/client): the message type, the error type and its
// codes, an encoder that writes the protocol's exact bytes and a strict
// decoder.
package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/nowebsocket/nows/framework/history"
)

// Subprotocol is the WebSocket subprotocol that selects the protocol.
const Subprotocol = "nows.v1"

// MaxID is the largest request number: 2^53-1, the largest integer a
// JavaScript number holds exactly.
const MaxID = 1<<53 - 1

// The error codes of the protocol.
const (
	CodeBadJSON      = "bad_json"      // the text is not a JSON object
	CodeBadEnvelope  = "bad_envelope"  // the object is not a valid envelope
	CodeUnknownEvent = "unknown_event" // no event of that name on the route
	CodeBadPayload   = "bad_payload"   // data does not decode into the payload type
	CodeInvalid      = "invalid"       // the payload's Validate method failed
	CodeForbidden    = "forbidden"     // a join refused
	CodeInternal     = "internal"      // the handler failed; details are in the server's log
	CodeTimeout      = "timeout"       // made by clients: no reply in time
	CodeDisconnected = "disconnected"  // made by clients: the connection dropped
)

// The events the server sends about rooms with history
// (internal/recovery/design.md §5).
const (
	EventText        = "nows.text"        // a text message to a room with history; data: the text as a JSON string
	EventBinary      = "nows.binary"      // a binary message to a room with history; data: base64
	EventPos         = "nows.pos"         // the position of a message sent to the others (BroadcastOthers)
	EventUnrecovered = "nows.unrecovered" // data: an [Unrecovered]
)

// Envelope is one message of the protocol. The zero value of a field
// means the member is absent.
type Envelope struct {
	Event string            // the event's name: events and requests
	ID    int64             // the sender's request number: requests
	Reply int64             // the number of the request answered: replies
	Data  json.RawMessage   // the payload, valid JSON; nil when absent
	Error *Error            // a failure
	Room  string            // the room of a message to a room with history
	Pos   *history.Position // that message's position in the room
}

// Join is the payload of nows.join and nows.leave. Since, in a join, is
// the position of the last message the client got from the room.
type Join struct {
	Room  string            `json:"room"`
	Since *history.Position `json:"since,omitempty"`
}

// Joined is the payload of the reply to nows.join (and nows.leave, which
// has the room alone). For a room with history, Pos is the room's top
// when read; Recovered is set when the join had a position, and Reason
// when it was not recovered.
type Joined struct {
	Room      string            `json:"room"`
	Pos       *history.Position `json:"pos,omitempty"`
	Recovered *bool             `json:"recovered,omitempty"`
	Reason    history.Reason    `json:"reason,omitempty"`
}

// Unrecovered is the payload of nows.unrecovered: after the join's reply,
// messages of the room before Pos may be missing, for Reason.
type Unrecovered struct {
	Room   string           `json:"room"`
	Reason history.Reason   `json:"reason"`
	Pos    history.Position `json:"pos"`
}

// Error is the error member of an envelope. A *Error is an error.
type Error struct {
	Code    string `json:"code"`            // a snake_case code, such as CodeBadPayload
	Message string `json:"message"`         // for people
	Event   string `json:"event,omitempty"` // the event concerned, if any
	Field   string `json:"field,omitempty"` // the payload member concerned, if any
}

// Error formats the error as "event: code: message" (no "event: " when
// Event is empty).
func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Event != "" {
		s = e.Event + ": " + s
	}
	return s
}

// Encode returns the envelope's JSON text: its members in the order
// event, id, reply, data, error, room, pos, the absent ones left out.
// e.Data must be valid JSON (see [Marshal]).
func Encode(e *Envelope) []byte {
	b := make([]byte, 0, 32+len(e.Event)+len(e.Data))
	b = append(b, '{')
	if e.Event != "" {
		b = append(b, `"event":`...)
		b = appendJSON(b, e.Event)
	}
	if e.ID != 0 {
		b = appendMember(b, `"id":`)
		b = strconv.AppendInt(b, e.ID, 10)
	}
	if e.Reply != 0 {
		b = appendMember(b, `"reply":`)
		b = strconv.AppendInt(b, e.Reply, 10)
	}
	if e.Data != nil {
		b = appendMember(b, `"data":`)
		b = append(b, e.Data...)
	}
	if e.Error != nil {
		b = appendMember(b, `"error":`)
		b = appendJSON(b, e.Error)
	}
	if e.Room != "" {
		b = appendMember(b, `"room":`)
		b = appendJSON(b, e.Room)
	}
	if e.Pos != nil {
		b = appendMember(b, `"pos":`)
		b = appendPos(b, *e.Pos)
	}
	return append(b, '}')
}

// AppendRoom returns the encoded envelope env (an object, as [Encode]
// writes it) with the members room and pos added at its end, in a new
// slice: the hub encodes a message once and adds its position once per
// node.
func AppendRoom(env []byte, room string, pos history.Position) []byte {
	env = bytes.TrimRight(env, " \t\r\n")
	b := make([]byte, 0, len(env)+len(room)+len(pos.Epoch)+48)
	b = append(b, env[:len(env)-1]...)
	if len(b) > 1 {
		b = append(b, ',')
	}
	b = append(b, `"room":`...)
	b = appendJSON(b, room)
	b = append(b, `,"pos":`...)
	b = appendPos(b, pos)
	return append(b, '}')
}

// EncodeText encodes a text message to a room with history, as the
// nows.text event that events members get.
func EncodeText(room string, text []byte, pos history.Position) []byte {
	data, err := Marshal(string(text))
	if err != nil {
		panic("wire: " + err.Error()) // unreachable for strings
	}
	return Encode(&Envelope{Event: EventText, Data: data, Room: room, Pos: &pos})
}

// EncodeBinary encodes a binary message to a room with history, as the
// nows.binary event (the bytes in standard base64).
func EncodeBinary(room string, data []byte, pos history.Position) []byte {
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(data))+2)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	b = append(b, '"')
	return Encode(&Envelope{Event: EventBinary, Data: b, Room: room, Pos: &pos})
}

// EncodePos encodes the nows.pos event: the position of a message of the
// room that the connection was left out of.
func EncodePos(room string, pos history.Position) []byte {
	return Encode(&Envelope{Event: EventPos, Room: room, Pos: &pos})
}

// appendPos appends a position as {"epoch":...,"offset":...}.
func appendPos(b []byte, p history.Position) []byte {
	b = append(b, `{"epoch":`...)
	b = appendJSON(b, p.Epoch)
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, p.Offset, 10)
	return append(b, '}')
}

// EncodeEvent encodes an event (id 0) or a request (id from 1 to MaxID)
// with payload marshalled by [Marshal]; a nil payload leaves data out.
func EncodeEvent(name string, id int64, payload any) ([]byte, error) {
	data, err := Marshal(payload)
	if err != nil {
		return nil, err
	}
	return Encode(&Envelope{Event: name, ID: id, Data: data}), nil
}

// EncodeReply encodes the successful reply to request id.
func EncodeReply(id int64, payload any) ([]byte, error) {
	data, err := Marshal(payload)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = json.RawMessage("null")
	}
	return Encode(&Envelope{Reply: id, Data: data}), nil
}

// EncodeError encodes a failed reply to request id, or, with id 0, the
// error about a message that was not a request.
func EncodeError(id int64, e *Error) []byte {
	return Encode(&Envelope{Reply: id, Error: e})
}

// Marshal encodes a payload as encoding/json does, without escaping <, >
// and & (as JavaScript's JSON.stringify). A nil payload gives nil.
func Marshal(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func appendMember(b []byte, name string) []byte {
	if len(b) > 1 {
		b = append(b, ',')
	}
	return append(b, name...)
}

// appendJSON appends a string or an *Error, which always encode.
func appendJSON(b []byte, v any) []byte {
	data, err := Marshal(v)
	if err != nil {
		panic("wire: " + err.Error()) // unreachable for strings and *Error
	}
	return append(b, data...)
}

// Decode parses one message strictly. The error, always an *Error, has
// code CodeBadJSON when b is not a JSON object and CodeBadEnvelope when
// the object has neither event nor reply, has both, has an id or a reply
// that is not an integer from 1 to MaxID (written as digits), an event
// that is not a non-empty string, an error that is not an object, a room
// that is not a string or a pos that is not a position (see
// [ParsePosition]). Other members are ignored.
func Decode(b []byte) (*Envelope, error) {
	var raw struct {
		Event, ID, Reply, Data, Error, Room, Pos json.RawMessage
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &raw) != nil {
		return nil, &Error{Code: CodeBadJSON, Message: "not a JSON object"}
	}
	e := &Envelope{Data: raw.Data}
	if raw.Event != nil && (json.Unmarshal(raw.Event, &e.Event) != nil || e.Event == "") {
		return nil, badEnvelope("", "event must be a non-empty string")
	}
	var ok bool
	if raw.Reply != nil {
		if e.Reply, ok = parseID(raw.Reply); !ok {
			return nil, badEnvelope(e.Event, "reply must be an integer from 1 to 2^53-1")
		}
	}
	switch {
	case e.Event == "" && e.Reply == 0:
		return nil, badEnvelope("", "no event and no reply")
	case e.Event != "" && e.Reply != 0:
		return nil, badEnvelope(e.Event, "event with reply")
	}
	if raw.ID != nil && e.Event != "" {
		if e.ID, ok = parseID(raw.ID); !ok {
			return nil, badEnvelope(e.Event, "id must be an integer from 1 to 2^53-1")
		}
	}
	if raw.Error != nil && !bytes.Equal(raw.Error, []byte("null")) {
		e.Error = new(Error)
		if raw.Error[0] != '{' || json.Unmarshal(raw.Error, e.Error) != nil {
			return nil, badEnvelope(e.Event, "error must be an object with string members")
		}
	}
	if raw.Room != nil && (raw.Room[0] != '"' || json.Unmarshal(raw.Room, &e.Room) != nil) {
		return nil, badEnvelope(e.Event, "room must be a string")
	}
	if raw.Pos != nil {
		p, ok := ParsePosition(raw.Pos)
		if !ok {
			return nil, badEnvelope(e.Event, "pos must be an object with a string epoch and an integer offset")
		}
		e.Pos = &p
	}
	return e, nil
}

// ParsePosition reads a position strictly: an object whose epoch is a
// string and whose offset is an integer from 0 to MaxID (written as
// digits); other members are ignored.
func ParsePosition(raw json.RawMessage) (history.Position, bool) {
	var m struct{ Epoch, Offset json.RawMessage }
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil ||
		m.Epoch == nil || m.Epoch[0] != '"' || m.Offset == nil {
		return history.Position{}, false
	}
	var p history.Position
	if json.Unmarshal(m.Epoch, &p.Epoch) != nil {
		return history.Position{}, false
	}
	n, err := strconv.ParseUint(string(m.Offset), 10, 64)
	if err != nil || n > MaxID || (m.Offset[0] == '0' && len(m.Offset) > 1) || m.Offset[0] == '+' {
		return history.Position{}, false
	}
	p.Offset = n
	return p, true
}

// DecodeJoin decodes the payload of nows.join or nows.leave. Its error,
// an *Error with code CodeBadPayload, names the member at fault: room
// when it is not a string (as [Unmarshal] says), since when it is present
// (not null) and not a position (see [ParsePosition]).
func DecodeJoin(data json.RawMessage) (Join, error) {
	var raw struct {
		Room  string          `json:"room"`
		Since json.RawMessage `json:"since"`
	}
	if err := Unmarshal(data, &raw); err != nil {
		return Join{}, err
	}
	j := Join{Room: raw.Room}
	if raw.Since != nil && !bytes.Equal(raw.Since, []byte("null")) {
		p, ok := ParsePosition(raw.Since)
		if !ok {
			return Join{}, &Error{Code: CodeBadPayload, Field: "since",
				Message: "data.since: want an object with a string epoch and an integer offset from 0 to 2^53-1"}
		}
		j.Since = &p
	}
	return j, nil
}

func badEnvelope(event, msg string) *Error {
	return &Error{Code: CodeBadEnvelope, Message: msg, Event: event}
}

// parseID reads a request number: digits only, from 1 to MaxID.
func parseID(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < 1 || n > MaxID || raw[0] == '+' || raw[0] == '0' {
		return 0, false
	}
	return n, true
}

// Unmarshal decodes a payload into v (a pointer) with encoding/json,
// unknown members ignored; absent or null data leaves v as it is. Its
// error, an *Error with code CodeBadPayload, names in Field the member
// whose value has the wrong type ("" for data itself), as in
// "data.text: want string, got number".
func Unmarshal(data json.RawMessage, v any) error {
	if len(data) == 0 {
		return nil
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		at := "data"
		if te.Field != "" {
			at += "." + te.Field
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 300": the value's kind
		if got == "bool" {
			got = "boolean"
		}
		return &Error{Code: CodeBadPayload, Field: te.Field,
			Message: at + ": want " + jsonKind(te.Type) + ", got " + got}
	}
	return &Error{Code: CodeBadPayload, Message: "data: " + err.Error()}
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}
