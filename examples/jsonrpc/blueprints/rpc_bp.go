// Package blueprints holds the jsonrpc example's blueprint: typed JSON
// messages with request/response correlation, in the shape of JSON-RPC 2.0
// (https://www.jsonrpc.org/specification).
package blueprints

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/nowebsocket/nows/framework"
)

// RPC serves JSON-RPC 2.0 over /rpc: each text message is a request, a
// notification (a request without "id": no answer) or a batch (an array of
// them). Answers carry the request's id, so a client can match them to its
// calls. Binary messages close the connection with 1003 (Session has no
// OnBinary). Internal errors are logged through d.Logger.
func RPC(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/rpc",
		framework.RouteFunc("", func() *Session { return &Session{deps: d} }),
	)
}

// Request is a JSON-RPC request. ID is absent (nil) in a notification.
type Request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// Response answers a Request: Result or Error, never both.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Error is a JSON-RPC error; methods return it for errors the client
// should see.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// The error codes of JSON-RPC 2.0.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// Session is one connection: its fields are the state the methods share.
type Session struct {
	deps    *Deps
	counter int64
}

// The methods, each with typed parameters and result.

// AddParams are the parameters of "add". Pointers tell a missing number
// from a zero.
type AddParams struct {
	A *float64 `json:"a"`
	B *float64 `json:"b"`
}

// CounterParams are the parameters of "counter.add".
type CounterParams struct {
	N int64 `json:"n"`
}

// TextParams are the parameters of "upper".
type TextParams struct {
	Text string `json:"text"`
}

var methods = map[string]method{
	"add": typed(func(s *Session, p AddParams) (float64, error) {
		if p.A == nil || p.B == nil {
			return 0, &Error{Code: CodeInvalidParams, Message: "add needs numbers a and b"}
		}
		return *p.A + *p.B, nil
	}),
	"upper": typed(func(s *Session, p TextParams) (string, error) {
		return strings.ToUpper(p.Text), nil
	}),
	"counter.add": typed(func(s *Session, p CounterParams) (int64, error) {
		s.counter += p.N
		return s.counter, nil
	}),
	"counter.get": typed(func(s *Session, _ struct{}) (int64, error) {
		return s.counter, nil
	}),
}

// method runs one call with raw parameters.
type method func(s *Session, params json.RawMessage) (any, error)

// typed adapts a method with typed parameters P: params that do not decode
// into P (unknown fields, wrong types) are an invalid-params error.
func typed[P, R any](f func(s *Session, p P) (R, error)) method {
	return func(s *Session, raw json.RawMessage) (any, error) {
		var p P
		if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				return nil, &Error{Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
			}
		}
		return f(s, p)
	}
}

// OnMessage answers a request or a batch.
func (s *Session) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	msg := bytes.TrimSpace([]byte(text))
	if len(msg) > 0 && msg[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(msg, &batch); err != nil {
			return c.SendJSON(ctx, errorResponse(nil, CodeParseError, "parse error"))
		}
		if len(batch) == 0 {
			return c.SendJSON(ctx, errorResponse(nil, CodeInvalidRequest, "empty batch"))
		}
		var answers []*Response
		for _, m := range batch {
			if r := s.handle(m); r != nil {
				answers = append(answers, r)
			}
		}
		if len(answers) == 0 {
			return nil // only notifications
		}
		return c.SendJSON(ctx, answers)
	}
	if r := s.handle(msg); r != nil {
		return c.SendJSON(ctx, r)
	}
	return nil
}

// handle runs one request and returns its response, or nil for a
// notification.
func (s *Session) handle(msg []byte) *Response {
	var req Request
	if err := json.Unmarshal(msg, &req); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || !json.Valid(msg) {
			return errorResponse(nil, CodeParseError, "parse error")
		}
		return errorResponse(nil, CodeInvalidRequest, "invalid request")
	}
	if req.JSONRPC != "2.0" || req.Method == "" || !validID(req.ID) {
		return errorResponse(idOrNull(req.ID), CodeInvalidRequest, `invalid request: want "jsonrpc":"2.0", a method and a string or number id`)
	}
	m, ok := methods[req.Method]
	if !ok {
		if req.ID == nil {
			return nil
		}
		return errorResponse(req.ID, CodeMethodNotFound, "method not found: "+req.Method)
	}
	result, err := m(s, req.Params)
	if req.ID == nil {
		return nil // a notification: never answered, not even its errors
	}
	if err != nil {
		var rpcErr *Error
		if errors.As(err, &rpcErr) {
			return &Response{JSONRPC: "2.0", ID: req.ID, Error: rpcErr}
		}
		s.deps.Logger.Error("rpc: method failed", "method", req.Method, "err", err)
		return errorResponse(req.ID, CodeInternalError, "internal error")
	}
	b, err := json.Marshal(result)
	if err != nil {
		s.deps.Logger.Error("rpc: result not JSON", "method", req.Method, "err", err)
		return errorResponse(req.ID, CodeInternalError, "internal error")
	}
	return &Response{JSONRPC: "2.0", ID: req.ID, Result: b}
}

// validID accepts what JSON-RPC allows as an id: absent, a string, a
// number or null.
func validID(id json.RawMessage) bool {
	if id == nil {
		return true
	}
	switch id[0] {
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'n':
		return true
	}
	return false
}

func idOrNull(id json.RawMessage) json.RawMessage {
	if id == nil || !validID(id) {
		return json.RawMessage("null")
	}
	return id
}

func errorResponse(id json.RawMessage, code int, message string) *Response {
	if id == nil {
		id = json.RawMessage("null")
	}
	return &Response{JSONRPC: "2.0", ID: id, Error: &Error{Code: code, Message: message}}
}
