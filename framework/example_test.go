package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// Room is a handler: a fresh Room is made for every connection.
type Room struct {
	id string
}

// OnOpen greets the client with the room taken from the path.
func (h *Room) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.id = c.Params().Str("room_id")
	return c.SendText(ctx, "joined "+h.id)
}

// OnMessage answers every text message.
func (h *Room) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if text == "bye" {
		return framework.CloseError{Code: framework.StatusNormalClosure, Reason: "see you"}
	}
	return c.SendText(ctx, h.id+": "+text)
}

// closed receives how Room connections ended, for the example to print.
var closed = make(chan framework.CloseStatus, 1)

// OnClose runs once when the connection ends.
func (h *Room) OnClose(c *framework.Conn, status framework.CloseStatus) {
	select {
	case closed <- status:
	default:
	}
}

// Example serves a blueprint and talks to it with a WebSocket client.
func Example() {
	chat := framework.NewBlueprint("/chat",
		framework.Route[Room]("/room/{room_id:str}"),
	)
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.Register(chat); err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()

	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/chat/room/42", nil)
	if err != nil {
		panic(err)
	}
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))
	_ = c.Write(ctx, websocket.MessageText, []byte("hello"))
	_, msg, _ = c.Read(ctx)
	fmt.Println(string(msg))
	_ = c.Write(ctx, websocket.MessageText, []byte("bye"))
	_, _, err = c.Read(ctx)
	fmt.Println("client got:", websocket.CloseStatus(err))

	st := <-closed
	fmt.Println("server saw:", st.Code, st.Reason)
	stop()
	<-done
	// Output:
	// joined 42
	// 42: hello
	// client got: StatusNormalClosure
	// server saw: 1000 normal closure see you
}

// ExampleRoute shows typed parameters: {name:type}, {type:name}, {name}
// and {name...}.
func ExampleRoute() {
	bp := framework.NewBlueprint("/api",
		framework.Route[Room]("/user/{id:int}"),      // canonical form
		framework.Route[Room]("/order/{uuid:order}"), // NoWebsocket's {type:name}
		framework.Route[Room]("/room/{room_id}"),     // str
		framework.Route[Room]("/files/{rest...}"),    // the rest of the path
	)
	r := framework.NewRouter()
	if err := r.Register(bp); err != nil {
		panic(err)
	}
	for _, path := range []string{"/api/user/42", "/api/user/x", "/api/files/a/b%20c"} {
		info, params, ok := r.Match(path)
		if !ok {
			fmt.Println(path, "-> 404")
			continue
		}
		v, _ := params.Get(params.Names()[0])
		fmt.Printf("%s -> %s %v (%T)\n", path, info.Template, v, v)
	}
	// Output:
	// /api/user/42 -> /api/user/{id:int} 42 (int64)
	// /api/user/x -> 404
	// /api/files/a/b%20c -> /api/files/{rest...} a/b c (string)
}

// ExampleServer_Register shows the default conflict policy: the later
// blueprint is skipped with a warning, unless Options.Strict is set.
func ExampleServer_Register() {
	a := framework.NewBlueprint("/u", framework.Route[Room]("/{id:int}"))
	b := framework.NewBlueprint("/u", framework.Route[Room]("/{uid:int}"))

	strict := framework.NewServer(framework.Options{Strict: true, Logger: slog.New(slog.DiscardHandler)})
	err := strict.Register(a, b)
	fmt.Println(errors.Is(err, framework.ErrRouteConflict))

	lenient := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	err = lenient.Register(a, b)
	fmt.Println(err, len(lenient.Routes()))
	// Output:
	// true
	// <nil> 1
}

// ExampleOptions shows the limits and their defaults.
func ExampleOptions() {
	srv := framework.NewServer(framework.Options{
		MaxMessageBytes: 10 << 20,         // 10 MiB instead of 2 MiB
		ReadTimeout:     5 * time.Minute,  // idle connections close with 1001
		PingInterval:    30 * time.Second, // keep-alive pings
		AllowedOrigins:  []string{"*.example.com"},
		Fallback:        http.NotFoundHandler(),
	})
	o := srv.Options()
	fmt.Println(o.MaxHeaderBytes, o.MaxMessageBytes, o.ReadTimeout, o.WriteTimeout, o.PongTimeout)
	// Output: 4096 10485760 5m0s 10s 30s
}

// ExampleReject rejects a handshake before upgrading.
func ExampleReject() {
	err := framework.Reject(http.StatusUnauthorized, "missing token")
	var he *framework.HTTPError
	fmt.Println(errors.As(err, &he), he.Status)
	// Output: true 401
}
