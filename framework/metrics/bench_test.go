package metrics_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/metrics"
	"github.com/nowebsocket/nows/framework/wstest"
)

// BenchmarkEcho measures one 64-byte text message echoed over a real
// socket, without an Observer and with a Metrics: the difference is what
// counting costs per message (two events, a hook timed).
//
//	go test -run '^$' -bench Echo -count 10 ./framework/metrics | benchstat -col /metrics -
func BenchmarkEcho(b *testing.B) {
	for _, tc := range []struct {
		name string
		obs  framework.Observer
	}{{"metrics=off", nil}, {"metrics=on", metrics.New()}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := framework.Options{Observer: tc.obs, Logger: slog.New(slog.DiscardHandler)}
			srv := wstest.NewServerOptions(b, opts, framework.NewBlueprint("", framework.Route[Echo]("/echo")))
			ws := srv.Dial(b, "/echo").Conn()
			msg := make([]byte, 64)
			for i := range msg {
				msg[i] = 'a'
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := ws.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
