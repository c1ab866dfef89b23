package events_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/events"
)

// Chat is a handler with typed events.
type Chat struct{ sent int }

// SendMsg is the payload of chat.send.
type SendMsg struct {
	Text string `json:"text"`
}

// Validate is called after decoding: its error is the client's (invalid).
func (m SendMsg) Validate() error {
	if strings.TrimSpace(m.Text) == "" {
		return errors.New("text is empty")
	}
	return nil
}

// Ack is the reply of chat.send.
type Ack struct {
	Seq int `json:"seq"`
}

// Send handles the request chat.send.
func (h *Chat) Send(ctx context.Context, c *framework.Conn, m SendMsg) (Ack, error) {
	h.sent++
	return Ack{Seq: h.sent}, events.BroadcastOthers(ctx, c, "lobby", "chat.message", m)
}

// OnJoin lets clients join the lobby only.
func (h *Chat) OnJoin(ctx context.Context, c *framework.Conn, room string) error {
	if room != "lobby" {
		return errors.New("no such room")
	}
	return nil
}

// serve runs srv over HTTP on 127.0.0.1, dials path with the protocol,
// and calls fn with a function that sends a message and returns the
// next one it reads.
func serve(srv *framework.Server, path string, fn func(roundTrip func(string) string)) {
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+path,
		&websocket.DialOptions{Subprotocols: []string{events.Subprotocol}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close(websocket.StatusNormalClosure, "")
	fn(func(msg string) string {
		if msg != "" {
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return err.Error()
			}
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err.Error()
		}
		return string(b)
	})
}

func ExampleRoute() {
	bp := framework.NewBlueprint("/chat", events.Route[Chat]("/room",
		events.Handle("chat.send", (*Chat).Send)))
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(bp); err != nil {
		fmt.Println(err)
		return
	}
	serve(srv, "/chat/room", func(send func(string) string) {
		fmt.Println(send(`{"event":"nows.join","id":1,"data":{"room":"lobby"}}`))
		fmt.Println(send(`{"event":"nows.join","id":2,"data":{"room":"attic"}}`))
		fmt.Println(send(`{"event":"chat.send","id":3,"data":{"text":"hi"}}`))
		fmt.Println(send(`{"event":"chat.send","id":4,"data":{"text":" "}}`))
		fmt.Println(send(`{"event":"chat.send","id":5,"data":{"text":5}}`))
		fmt.Println(send(`{"event":"chat.sned","id":6}`))
	})
	// Output:
	// {"reply":1,"data":{"room":"lobby"}}
	// {"reply":2,"error":{"code":"forbidden","message":"no such room","event":"nows.join"}}
	// {"reply":3,"data":{"seq":1}}
	// {"reply":4,"error":{"code":"invalid","message":"text is empty","event":"chat.send"}}
	// {"reply":5,"error":{"code":"bad_payload","message":"data.text: want string, got number","event":"chat.send","field":"text"}}
	// {"reply":6,"error":{"code":"unknown_event","message":"unknown event \"chat.sned\"","event":"chat.sned"}}
}

// Greeter asks each client its name as it connects.
type Greeter struct{}

// OnOpen asks the client and greets it: the reply is read while OnOpen
// waits.
func (Greeter) OnOpen(ctx context.Context, c *framework.Conn) error {
	var who struct {
		Name string `json:"name"`
	}
	if err := events.Request(ctx, c, "whoami", nil, &who); err != nil {
		return err
	}
	return events.Emit(ctx, c, "welcome", "hello, "+who.Name)
}

func ExampleRequest() {
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(framework.NewBlueprint("", events.Route[Greeter]("/hi"))); err != nil {
		fmt.Println(err)
		return
	}
	serve(srv, "/hi", func(send func(string) string) {
		fmt.Println(send(""))
		fmt.Println(send(`{"reply":1,"data":{"name":"ada"}}`))
	})
	// Output:
	// {"event":"whoami","id":1}
	// {"event":"welcome","data":"hello, ada"}
}

// Feed puts every connection in the room "news" and tells it so.
type Feed struct{}

// OnOpen joins the room, then says so: once a client has read "joined",
// it gets the broadcasts.
func (Feed) OnOpen(ctx context.Context, c *framework.Conn) error {
	if err := c.Join("news"); err != nil {
		return err
	}
	return events.Emit(ctx, c, "joined", "news")
}

// Headline is the payload of the event headline.
type Headline struct {
	Title string `json:"title"`
}

func ExampleBroadcast() {
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(framework.NewBlueprint("", events.Route[Feed]("/feed"))); err != nil {
		fmt.Println(err)
		return
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/feed"
	var clients []*websocket.Conn
	for _, protos := range [][]string{{events.Subprotocol}, nil} { // an events client, a plain one
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: protos})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer ws.Close(websocket.StatusNormalClosure, "")
		_, joined, _ := ws.Read(ctx)
		fmt.Printf("%q: %s\n", ws.Subprotocol(), joined)
		clients = append(clients, ws)
	}

	// From anywhere in the app: a handler, a ticker, an HTTP handler.
	if err := events.Broadcast(ctx, srv.Hub(), "news", "headline", Headline{Title: "nows.v1 ships"}); err != nil {
		fmt.Println(err)
	}
	for _, ws := range clients {
		_, b, _ := ws.Read(ctx)
		fmt.Printf("%q: %s\n", ws.Subprotocol(), b)
	}
	// Output:
	// "nows.v1": {"event":"joined","data":"news"}
	// "": {"event":"joined","data":"news"}
	// "nows.v1": {"event":"headline","data":{"title":"nows.v1 ships"}}
	// "": {"event":"headline","data":{"title":"nows.v1 ships"}}
}
