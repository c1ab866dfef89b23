// Command gorilla is the github.com/gorilla/websocket echo server of the
// benchmark: NextReader into a pooled buffer, WriteMessage. It serves
// /echo, and /fanout and /fanout/pub (fanout.go).
//
//	go run ./servers/gorilla --addr 127.0.0.1:8766
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

var pool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(2 << 20)
	for {
		typ, rd, err := c.NextReader()
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
		err = c.WriteMessage(typ, buf)
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
	go room.run()
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "gorilla:", err)
		os.Exit(1)
	}
}
