package framework_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// BenchmarkDispatch measures one message through the hooks over a real
// socket: the client sends, the server reads, validates, dispatches to
// OnMessage or OnBinary, which echoes, and the client reads the echo.
func BenchmarkDispatch(b *testing.B) {
	srv := serve(b, framework.Options{Logger: (&logBuffer{}).logger()})
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		size int
	}{
		{"text/64B", websocket.MessageText, 64},
		{"text/16KiB", websocket.MessageText, 16 << 10},
		{"binary/64B", websocket.MessageBinary, 64},
		{"binary/16KiB", websocket.MessageBinary, 16 << 10},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := srv.Dial(b, "/echo")
			ws := c.Conn()
			msg := bytes.Repeat([]byte("é"), tc.size/2)
			ctx := context.Background()
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ws.Write(ctx, tc.typ, msg); err != nil {
					b.Fatal(err)
				}
				_, r, err := ws.Reader(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := r.Read(buf); err != nil {
						break
					}
				}
			}
			c.Close()
		})
	}
}

// BenchmarkUTF8Prefix measures the UTF-8 check of text messages.
func BenchmarkUTF8Prefix(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"ascii/16KiB", strings.Repeat("a", 16<<10)},
		{"greek/16KiB", strings.Repeat("κ", 8<<10)},
		{"truncated/16KiB", strings.Repeat("a", 16<<10-2) + "\xe2\x82"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := []byte(tc.text)
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				framework.UTF8Prefix(p)
			}
		})
	}
}

// benchJSON is a typical small JSON message.
type benchJSON struct {
	Type string   `json:"type"`
	Room string   `json:"room"`
	User string   `json:"user"`
	Seq  int      `json:"seq"`
	Tags []string `json:"tags"`
}

// BenchmarkSendJSON measures Conn.SendJSON to a client that reads.
func BenchmarkSendJSON(b *testing.B) {
	srv := serve(b, framework.Options{Logger: (&logBuffer{}).logger()})
	p := newProbe(b)
	c := srv.Dial(b, p.path("/probe"))
	conn := p.waitOpen(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		ws := c.Conn()
		buf := make([]byte, 4096)
		for {
			_, r, err := ws.Reader(ctx)
			if err != nil {
				done <- err
				return
			}
			for {
				if _, err := r.Read(buf); err != nil {
					break
				}
			}
		}
	}()
	v := benchJSON{Type: "chat", Room: "lobby", User: "ada", Tags: []string{"a", "b"}}
	b.ReportAllocs()
	for b.Loop() {
		v.Seq++
		if err := conn.SendJSON(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	<-done
}
