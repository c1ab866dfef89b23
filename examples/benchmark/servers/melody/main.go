// Command melody is the github.com/olahol/melody echo server of the
// benchmark, as melody's README writes it, with the message limit raised
// to 2 MiB (melody's default is 512 bytes). It serves /echo, and /fanout
// and /fanout/pub (fanout.go).
//
//	go run ./servers/melody --addr 127.0.0.1:8766
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/olahol/melody"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8766", "address to listen on")
	flag.Parse()
	m := melody.New()
	m.Config.MaxMessageSize = 2 << 20
	m.Upgrader.CheckOrigin = func(*http.Request) bool { return true }
	m.HandleMessage(func(s *melody.Session, msg []byte) { _ = s.Write(msg) })
	m.HandleMessageBinary(func(s *melody.Session, msg []byte) { _ = s.WriteBinary(msg) })
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { _ = m.HandleRequest(w, r) })
	serveFanout(mux)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, "melody:", err)
		os.Exit(1)
	}
}
