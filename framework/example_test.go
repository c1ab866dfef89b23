package framework_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
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
		return websocket.CloseError{Code: websocket.StatusNormalClosure, Reason: "see you"}
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
	// server saw: StatusNormalClosure see you
}

// Where is a handler that tells the client which route it matched and the
// typed value of its first parameter.
type Where struct{}

// OnOpen sends the route template and the parameters.
func (h *Where) OnOpen(ctx context.Context, c *framework.Conn) error {
	msg := c.Route()
	for name, v := range c.Params().All() {
		msg += fmt.Sprintf(" %s=%v (%T)", name, v, v)
	}
	return c.SendText(ctx, msg)
}

// OnMessage ignores messages.
func (h *Where) OnMessage(ctx context.Context, c *framework.Conn, text string) error { return nil }

// ExampleRoute shows typed parameters ({name:type}, {type:name}, {name},
// {name...}) and which route wins: static segments, then int, float, uuid
// and custom types, then str, then path. A value that does not parse does
// not match.
func ExampleRoute() {
	bp := framework.NewBlueprint("/u",
		framework.Route[Where]("/me"),
		framework.Route[Where]("/{id:int}"),  // canonical form
		framework.Route[Where]("/{float:x}"), // NoWebsocket's {type:name}
		framework.Route[Where]("/{name}"),    // str
		framework.Route[Where]("/{rest...}"), // the rest of the path
	)
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.Register(bp); err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	for _, path := range []string{"/u/me", "/u/42", "/u/3.5", "/u/bob", "/u/a/b%20c"} {
		c, _, err := websocket.Dial(context.Background(), "ws"+hs.URL[4:]+path, nil)
		if err != nil {
			panic(err)
		}
		_, msg, _ := c.Read(context.Background())
		fmt.Println(path, "->", string(msg))
		c.CloseNow()
	}
	// Output:
	// /u/me -> /u/me
	// /u/42 -> /u/{id:int} id=42 (int64)
	// /u/3.5 -> /u/{float:x} x=3.5 (float64)
	// /u/bob -> /u/{name} name=bob (string)
	// /u/a/b%20c -> /u/{rest...} rest=a/b c (string)
}

// ExampleOptions_BindFlags binds the limits to command-line flags (and
// NOWS_* environment variables); what is not given keeps its default.
func ExampleOptions_BindFlags() {
	var opts framework.Options
	opts.ReadTimeout = 5 * time.Minute // the app's own default
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse([]string{"--max-message-bytes", "1MiB", "--queue-policy", "drop"}); err != nil {
		panic(err)
	}
	fmt.Println(opts.Addr, opts.MaxMessageBytes, opts.ReadTimeout, opts.SendQueue.Policy)
	// Output: 0.0.0.0:8765 1048576 5m0s drop
}

// ExampleRun is the whole main function of an app: flags, environment,
// signals and graceful shutdown included.
func ExampleRun() {
	var opts framework.Options
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	bp := framework.NewBlueprint("/chat", framework.Route[Room]("/room/{room_id}"))
	if err := framework.Run(context.Background(), framework.NewServer(opts), bp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Guard rejects handshakes without a token.
type Guard struct{ Greeter }

// OnHandshake runs before the upgrade.
func (h *Guard) OnHandshake(r *http.Request) error {
	if r.URL.Query().Get("token") == "" {
		return framework.Reject(http.StatusUnauthorized, "missing token")
	}
	return nil
}

// ExampleReject rejects a handshake before upgrading.
func ExampleReject() {
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.Register(framework.NewBlueprint("", framework.Route[Guard]("/ws"))); err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	_, resp, err := websocket.Dial(context.Background(), "ws"+hs.URL[4:]+"/ws", nil)
	fmt.Println(err != nil, resp.StatusCode)
	// Output: true 401
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

// Deps is what an app's handlers share, filled by main from its flags.
type Deps struct{ Start int }

// CountBlueprint is a blueprint constructor, as `nows registry` finds them:
// it passes the app's dependencies to every connection's handler.
func CountBlueprint(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/count",
		framework.RouteFunc("", func() *Counter { return &Counter{start: d.Start} }),
	)
}

// ExampleRouteFunc gives every connection's handler the app's dependencies.
func ExampleRouteFunc() {
	srv := framework.NewServer(framework.Options{})
	if err := srv.Register(CountBlueprint(&Deps{Start: 100})); err != nil {
		panic(err)
	}
	fmt.Println(srv.Routes()[0].Template, srv.Routes()[0].Handler)
	// Output: /count Counter
}

// Example_closeError closes a connection from a hook with a chosen code
// and reason: return a websocket.CloseError, as a value or a pointer.
func Example_closeError() {
	err := websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "no swearing"}
	// return err (or &err) from OnMessage: the client gets 1008 "no swearing".
	var ce websocket.CloseError
	fmt.Println(errors.As(fmt.Errorf("wrapped: %w", err), &ce), ce.Code)
	// Output: true StatusPolicyViolation
}

// ExampleOptions_paramTypes adds a parameter type. A segment the function
// refuses is no match, so the client gets 404 before any upgrade.
func ExampleOptions_paramTypes() {
	slug := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	srv := framework.NewServer(framework.Options{ParamTypes: map[string]func(string) (any, error){
		"slug": func(s string) (any, error) {
			if !slug.MatchString(s) {
				return nil, errors.New("not a slug")
			}
			return s, nil
		},
	}})
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
		ReadHeaderTimeout: 10 * time.Second, // Options.HandshakeTimeout applies only to Serve
		MaxHeaderBytes:    4096,
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
