package framework_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// BenchmarkHandshake opens and closes connections, as `nows bench
// --handshakes` does (upgrade, then a close handshake started by the
// client), against nows and against coder/websocket's Accept alone with
// the read loop of examples/benchmark/servers/coder.
func BenchmarkHandshake(b *testing.B) {
	b.Run("nows", func(b *testing.B) {
		bp := framework.NewBlueprint("", framework.Route[echoHandler]("/echo"))
		srv := wstest.NewServerOptions(b, framework.Options{Logger: slog.New(slog.DiscardHandler)}, bp)
		handshakes(b, srv.Addr)
	})
	b.Run("coder", func(b *testing.B) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				_, rd, err := c.Reader(context.Background())
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, rd); err != nil {
					return
				}
			}
		}))
		defer ts.Close()
		handshakes(b, strings.TrimPrefix(ts.URL, "http://"))
	})
}

func handshakes(b *testing.B, addr string) {
	req := upgradeRequest(addr, "/echo")
	closeFrame := []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 at a time on 2 cores, as make bench
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 256)
		for pb.Next() {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := io.WriteString(nc, req); err != nil {
				b.Error(err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReaderSize(nc, 256), nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				b.Errorf("upgrade: %v %v", resp, err)
				return
			}
			if _, err := nc.Write(closeFrame); err != nil {
				b.Error(err)
				return
			}
			for {
				if _, err := nc.Read(buf); err != nil {
					break
				}
			}
			nc.Close()
		}
	})
}
