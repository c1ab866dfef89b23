package framework_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nowebsocket/nows/framework"
)

// PyRoom is a hook ported from Python as it was written there: its OnOpen
// has the wrong signature, so it would never be called.
type PyRoom struct{}

// OnOpen has the wrong signature: the framework's takes a ctx first.
func (h *PyRoom) OnOpen(c *framework.Conn) error { return nil }

// OnMessage is right.
func (h *PyRoom) OnMessage(ctx context.Context, c *framework.Conn, text string) error { return nil }

// ExampleServer_Register shows what registration rejects: two routes that
// match the same paths, and a hook with the wrong signature. Each error
// names the routes, where they were declared, and the fix.
func ExampleServer_Register() {
	srv := framework.NewServer(framework.Options{})
	err := srv.Register(
		framework.NewBlueprint("/u", framework.Route[Room]("/{id:int}")),
		framework.NewBlueprint("/u", framework.Route[Room]("/{uid:int}")),
		framework.NewBlueprint("/py", framework.Route[PyRoom]("")),
	)
	fmt.Println(errors.Is(err, framework.ErrRouteConflict), errors.Is(err, framework.ErrBadHandler))
	for _, line := range strings.Split(err.Error(), "\n") {
		_, msg, _ := strings.Cut(line, "): framework: ")
		fmt.Println(msg)
	}
	fmt.Println(len(srv.Routes()), "route registered")
	// Output:
	// true true
	// route conflict: /u/{uid:int} (framework/example_register_test.go:29, handler Room) matches the same paths as /u/{id:int} (framework/example_register_test.go:28, handler Room): change one template or remove one route
	// bad handler: route "" (framework/example_register_test.go:30): method (*framework_test.PyRoom).OnOpen has signature func(*framework.Conn) error; want func(ctx context.Context, c *framework.Conn) error
	// 1 route registered
}
