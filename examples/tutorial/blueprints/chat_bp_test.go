package blueprints

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework/events"
	"github.com/nowebsocket/nows/framework/wstest"
)

func TestChat(t *testing.T) {
	t.Parallel()
	deps := &Deps{Logger: slog.New(slog.DiscardHandler), Tokens: Tokens{"a-secret": "alice", "b-secret": "bob"}}
	srv := wstest.NewServer(t, Chat(deps))
	alice := dial(t, srv, "/chat?token=a-secret")
	bob := dial(t, srv, "/chat?token=b-secret")

	alice.SendText(`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`)
	alice.ExpectText(`{"reply":1,"data":{"room":"lobby"}}`)
	bob.SendText(`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`)
	bob.ExpectText(`{"reply":1,"data":{"room":"lobby"}}`)

	bob.SendText(`{"event":"chat.send","id":2,"data":{"room":"lobby","text":"hi"}}`)
	alice.ExpectText(`{"event":"chat.message","data":{"room":"lobby","from":"bob","text":"hi"}}`)

	alice.SendText(`{"event":"chat.send","id":2,"data":{"room":"attic","text":"hi"}}`)
	alice.ExpectText(`{"reply":2,"error":{"code":"not_joined","message":"join the room first","event":"chat.send","field":"room"}}`)
	alice.SendText(`{"event":"nows.join","id":3,"data":{"room":"Attic!"}}`)
	alice.ExpectText(`{"reply":3,"error":{"code":"forbidden","message":"a room name is 1 to 32 of a-z, 0-9 and -","event":"nows.join"}}`)
}

func TestChatRefusesUnknownTokens(t *testing.T) {
	t.Parallel()
	deps := &Deps{Logger: slog.New(slog.DiscardHandler), Tokens: Tokens{"a-secret": "alice"}}
	srv := wstest.NewServer(t, Chat(deps))
	for _, path := range []string{"/chat", "/chat?token=", "/chat?token=b-secret"} {
		_, resp, err := srv.DialOptions(t, path, &websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, %v; want 401", path, resp, err)
		}
	}
}

// dial connects to path as nows.js does, offering the protocol nows.v1.
func dial(t *testing.T, srv *wstest.Server, path string) *wstest.Client {
	t.Helper()
	c, _, err := srv.DialOptions(t, path, &websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
