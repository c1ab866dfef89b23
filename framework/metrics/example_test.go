package metrics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

type Echo struct{}

func (Echo) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}

// A server's metrics, registered with Prometheus. Package framework/admin
// does this, and serves them on its own listener.
func ExampleNew() {
	m := metrics.New()
	srv := framework.NewServer(framework.Options{Observer: m}) // the Observer before NewServer
	m.Attach(srv)                                              // then the server, for its routes and rooms
	if err := srv.Register(framework.NewBlueprint("", framework.Route[Echo]("/echo"))); err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/echo", nil)
	if err != nil {
		panic(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte("hello"))
	_, _, _ = c.Read(ctx) // the echo: the message was counted before it

	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == "nows_messages_received_total" || f.GetName() == "nows_connections" {
			_, _ = expfmt.MetricFamilyToText(os.Stdout, f)
		}
	}
	// Output:
	// # HELP nows_connections WebSocket connections open now.
	// # TYPE nows_connections gauge
	// nows_connections{route="/echo"} 1
	// # HELP nows_messages_received_total Messages received from clients.
	// # TYPE nows_messages_received_total counter
	// nows_messages_received_total{route="/echo",type="binary"} 0
	// nows_messages_received_total{route="/echo",type="text"} 1
}

// The snapshot that /api/snapshot serves: a page of the rooms, largest
// first, and the counters.
func ExampleMetrics_Snapshot() {
	m := metrics.New()
	m.Observe(framework.Event{Kind: framework.EventHandshake, Route: "/echo", Status: 101})
	m.Observe(framework.Event{Kind: framework.EventOpen, Route: "/echo"})
	doc, err := m.Snapshot(1, 50)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(string(doc), `"connections":1`), strings.Contains(string(doc), `"handshakes":{"101":1}`))
	// Output: true true
}
