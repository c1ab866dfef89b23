// Command gws is the github.com/lxzan/gws echo server of the benchmark,
// behind net/http like the others (gws.Upgrader), reading on the handler's
// goroutine. It serves /echo, and /fanout and /fanout/pub (fanout.go).
//
//	go run ./servers/gws --addr 127.0.0.1:8766
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/lxzan/gws"
)

type handler struct{ gws.BuiltinEventHandler }

func (handler) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8766", "address to listen on")
	flag.Parse()
	up := gws.NewUpgrader(handler{}, &gws.ServerOption{ReadMaxPayloadSize: 2 << 20})
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		socket, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		socket.ReadLoop()
	})
	serveFanout(mux)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "gws:", err)
		os.Exit(1)
	}
}
