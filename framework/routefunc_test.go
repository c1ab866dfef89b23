package framework_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

func TestRouteFuncGivesEachConnectionItsHandler(t *testing.T) {
	var made atomic.Int32
	bp := framework.NewBlueprint("/count",
		framework.RouteFunc("", func() *Counter {
			made.Add(1)
			return &Counter{start: 100}
		}),
	)
	srv := wstest.NewServer(t, bp)
	for range 2 {
		c := srv.Dial(t, "/count")
		c.SendText("a")
		c.ExpectText("101")
		c.SendText("b")
		c.ExpectText("102") // the handler's own state, fresh per connection
		c.Close()
	}
	if n := made.Load(); n < 3 {
		t.Errorf("constructor ran %d times, want at least 3 (registration and 2 connections)", n)
	}
}

func TestRouteFuncNil(t *testing.T) {
	tests := []struct {
		name string
		spec framework.RouteSpec
	}{
		{"nil constructor", framework.RouteFunc[Counter]("", nil)},
		{"constructor returns nil", framework.RouteFunc("", func() *Counter { return nil })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := framework.NewServer(framework.Options{}).Register(framework.NewBlueprint("/x", tt.spec))
			if err == nil {
				t.Fatal("got nil error, want a registration error")
			}
			if !errors.Is(err, framework.ErrBadHandler) {
				t.Errorf("got %v, want ErrBadHandler", err)
			}
		})
	}
}
