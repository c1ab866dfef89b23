package framework_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
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

// ExampleRouter_Match shows the precedence of routes: static segments,
// then int, float, uuid, custom types, then str, then path.
func ExampleRouter_Match() {
	bp := framework.NewBlueprint("/u",
		framework.Route[Room]("/me"), framework.Route[Room]("/{id:int}"),
		framework.Route[Room]("/{x:float}"), framework.Route[Room]("/{u:uuid}"),
		framework.Route[Room]("/{name}"), framework.Route[Room]("/{rest...}"),
	)
	r := framework.NewRouter()
	if err := r.Register(bp); err != nil {
		panic(err)
	}
	for _, p := range []string{"/u/me", "/u/42", "/u/3.5", "/u/9223372036854775808", "/u/0A1B2C3D-0000-4000-8000-000000000000", "/u/bob", "/u/a/b"} {
		info, _, _ := r.Match(p)
		fmt.Println(p, "->", info.Template)
	}
	// Output:
	// /u/me -> /u/me
	// /u/42 -> /u/{id:int}
	// /u/3.5 -> /u/{x:float}
	// /u/9223372036854775808 -> /u/{x:float}
	// /u/0A1B2C3D-0000-4000-8000-000000000000 -> /u/{u:uuid}
	// /u/bob -> /u/{name}
	// /u/a/b -> /u/{rest...}
}

// Counter is a handler with a dependency, made by RouteFunc.
type Counter struct {
	start int
	n     int
}

// OnMessage counts messages from the configured start.
func (h *Counter) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	h.n++
	return c.SendText(ctx, fmt.Sprint(h.start+h.n))
}

// ExampleRouteFunc gives every connection's handler its dependencies.
func ExampleRouteFunc() {
	start := 100 // a store, a directory, a token list...
	bp := framework.NewBlueprint("/count",
		framework.RouteFunc("", func() *Counter { return &Counter{start: start} }),
	)
	fmt.Println(bp.Routes()[0].Handler())
	// Output: Counter
}

// ExampleCloseError closes a connection from a hook with a chosen code and
// reason.
func ExampleCloseError() {
	err := framework.CloseError{Code: framework.StatusPolicyViolation, Reason: "no swearing"}
	// return err from OnMessage: the client gets 1008 "no swearing".
	var ce framework.CloseError
	fmt.Println(errors.As(fmt.Errorf("wrapped: %w", err), &ce), ce.Code)
	// Output: true 1008 policy violation
}

// ExampleServer_ShutdownWith closes every connection with 1012 Service
// Restart before a process is replaced (nows run --watch does this).
func ExampleServer_ShutdownWith() {
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.ShutdownWith(ctx, framework.StatusServiceRestart, "restarting")
	fmt.Println(err)
	// Output: <nil>
}

// ExampleParamType adds a parameter type with Options.ParamTypes. A segment
// that Parse refuses is no match, so the client gets 404 before any upgrade.
func ExampleParamType() {
	slug := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	srv := framework.NewServer(framework.Options{ParamTypes: []framework.ParamType{{
		Name: "slug",
		Parse: func(s string) (any, error) {
			if !slug.MatchString(s) {
				return nil, errors.New("not a slug")
			}
			return s, nil
		},
	}}})
	if err := srv.Register(framework.NewBlueprint("/post", framework.Route[Room]("/{title:slug}"))); err != nil {
		panic(err)
	}
	for _, path := range []string{"/post/hello-world", "/post/Hello_World"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code) // 426: the route matches, but this GET is no WebSocket handshake
	}
	// Output:
	// /post/hello-world 426
	// /post/Hello_World 404
}

// Greeter greets every connection, then echoes.
type Greeter struct{}

// OnOpen greets the client.
func (h *Greeter) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, "hello")
}

// OnMessage echoes text.
func (h *Greeter) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// ExampleServer_ServeHTTP mounts a Server in an http.Server of your own,
// next to other handlers. That http.Server then sets the handshake limits,
// and shutting down takes both: http.Server.Shutdown leaves WebSockets open.
func ExampleServer_ServeHTTP() {
	ws := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := ws.Register(framework.NewBlueprint("/ws", framework.Route[Greeter](""))); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: framework.DefaultHandshakeTimeout, // Options.HandshakeTimeout applies only to Serve
		MaxHeaderBytes:    framework.DefaultMaxHeaderBytes,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer c.CloseNow()
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // stops accepting, but the WebSocket stays open
	<-served
	_ = c.Write(ctx, websocket.MessageText, []byte("still open"))
	_, msg, _ = c.Read(ctx)
	fmt.Println(string(msg))
	read := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); read <- err }() // the client reads, to answer the close handshake

	_ = ws.Shutdown(sctx) // closes the WebSocket with 1001 Going Away and runs OnClose
	fmt.Println("client got:", websocket.CloseStatus(<-read))
	// Output:
	// hello
	// still open
	// client got: StatusGoingAway
}
