// Command coder is the raw github.com/coder/websocket echo server of the
// benchmark, written the fast way: Reader into a pooled buffer (Read
// allocates per message), Write, and a context whose Done is nil for both
// (coder allocates per frame for a cancellable one), as nows itself does. It serves /echo, and /fanout and /fanout/pub (fanout.go).
//
//	go run ./servers/coder --addr 127.0.0.1:8766
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/coder/websocket"
)

// The buffer is taken per message so that an idle connection holds none.
var pool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(2 << 20)
	ctx := context.Background() // no Done: coder's fast path
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		bp := pool.Get().(*[]byte)
		buf := (*bp)[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		err = c.Write(ctx, typ, buf)
		*bp = buf[:0]
		pool.Put(bp)
		if err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8766", "address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/fanout", subscribe)
	mux.HandleFunc("/fanout/pub", publish)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "coder:", err)
		os.Exit(1)
	}
}
