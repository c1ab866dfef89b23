package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

type okHooks struct{}

func (*okHooks) OnHandshake(r *http.Request) error                               { return nil }
func (*okHooks) OnOpen(ctx context.Context, c *Conn) error                       { return nil }
func (*okHooks) OnMessage(ctx context.Context, c *Conn, text string) error       { return nil }
func (*okHooks) OnBinary(ctx context.Context, c *Conn, data []byte) error        { return nil }
func (*okHooks) OnClose(c *Conn, st CloseStatus)                                 {}
func (*okHooks) OnSomethingElse(ctx context.Context, c *Conn, text string) error { return nil }

type pyOpen struct{}

func (*pyOpen) OnOpen(c *Conn) error { return nil }

type noCtxMessage struct{}

func (*noCtxMessage) OnMessage(c *Conn, text []byte) error { return nil }

type closeWithError struct{}

func (*closeWithError) OnClose(c *Conn, st CloseStatus) error { return nil }

type misspelt struct{}

func (*misspelt) Onmessage(ctx context.Context, c *Conn, text string) error { return nil }

type valueReceiver struct{}

func (valueReceiver) OnOpen(c *Conn) {}

// TestCheckHooks: a method named like a hook with another signature or
// spelling is reported with the signature it should have.
func TestCheckHooks(t *testing.T) {
	testCases := []struct {
		v    any
		want string // "" for no error
	}{
		{&okHooks{}, ""},
		{&pyOpen{}, "(*framework.pyOpen).OnOpen has signature func(*framework.Conn) error; want func(ctx context.Context, c *framework.Conn) error"},
		{&noCtxMessage{}, "(*framework.noCtxMessage).OnMessage has signature func(*framework.Conn, []uint8) error; want func(ctx context.Context, c *framework.Conn, text string) error"},
		{&closeWithError{}, "(*framework.closeWithError).OnClose has signature func(*framework.Conn, framework.CloseStatus) error; want func(c *framework.Conn, status framework.CloseStatus)"},
		{&misspelt{}, "(*framework.misspelt).Onmessage is never called: the hook is spelled OnMessage"},
		{&valueReceiver{}, "(*framework.valueReceiver).OnOpen has signature func(*framework.Conn); want func(ctx context.Context, c *framework.Conn) error"},
	}
	for _, tc := range testCases {
		err := checkHooks(reflect.TypeOf(tc.v))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%T: got %v, want no error", tc.v, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%T: got %v, want an error containing %q", tc.v, err, tc.want)
		}
	}
}

// TestRegisterBadHook: the error of Register names the route, where it was
// declared, the method and the signature it should have.
func TestRegisterBadHook(t *testing.T) {
	srv := NewServer(Options{})
	err := srv.Register(NewBlueprint("/room", Route[pyOpen]("/{id}")))
	if !errors.Is(err, ErrBadHandler) {
		t.Fatalf("got %v, want ErrBadHandler", err)
	}
	for _, want := range []string{`route "/{id}"`, "hooks_internal_test.go:", "OnOpen", "want func(ctx context.Context, c *framework.Conn) error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := len(srv.Routes()); n != 0 {
		t.Errorf("got %d routes, want none registered", n)
	}
	if err := srv.Register(NewBlueprint("/p", Route[*okHooks]("/"))); err == nil || !strings.Contains(err.Error(), "write Route[framework.okHooks]") {
		t.Errorf("Route[*T]: got %v, want an error saying to write Route[framework.okHooks]", err)
	}
}

// TestPanicStack: the stack of a panic is one attribute per frame, which
// the JSON handler writes as an object and the text handler as key=value.
func TestPanicStack(t *testing.T) {
	var jsonOut, textOut bytes.Buffer
	func() {
		defer func() {
			_ = recover()
			attr := panicStack()
			slog.New(slog.NewJSONHandler(&jsonOut, nil)).Error("p", attr)
			slog.New(slog.NewTextHandler(&textOut, nil)).Error("p", attr)
		}()
		panic("boom")
	}()
	var rec struct{ Stack map[string]string }
	if err := json.Unmarshal(jsonOut.Bytes(), &rec); err != nil {
		t.Fatalf("JSON log %s: %v", jsonOut.String(), err)
	}
	if !strings.Contains(rec.Stack["0"], "TestPanicStack") || !strings.Contains(rec.Stack["0"], "hooks_internal_test.go:") {
		t.Errorf("JSON stack[0] = %q, want the panicking function and its file", rec.Stack["0"])
	}
	if !strings.Contains(textOut.String(), `stack.0="github.com/nowebsocket/nows/framework.TestPanicStack`) {
		t.Errorf("text log %q has no stack.0 frame", textOut.String())
	}
	if strings.Contains(jsonOut.String(), "runtime.gopanic") {
		t.Errorf("the stack lists runtime frames: %s", jsonOut.String())
	}
}
