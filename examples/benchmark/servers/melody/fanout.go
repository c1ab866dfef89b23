package main

import (
	"net/http"

	"github.com/olahol/melody"
)

// The fan-out routes, as melody's README writes a broadcast, on a melody
// instance of their own: /fanout joins (every session of the instance is
// in the room), /fanout/pub is a session marked "pub" whose every message
// goes out with BroadcastBinaryFilter to the sessions not so marked.
func serveFanout(mux *http.ServeMux) {
	m := melody.New()
	m.Config.MaxMessageSize = 2 << 20
	m.Upgrader.CheckOrigin = func(*http.Request) bool { return true }
	notPub := func(s *melody.Session) bool { _, pub := s.Get("pub"); return !pub }
	m.HandleMessageBinary(func(s *melody.Session, msg []byte) {
		if _, pub := s.Get("pub"); pub {
			_ = m.BroadcastBinaryFilter(msg, notPub)
		}
	})
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) { _ = m.HandleRequest(w, r) })
	mux.HandleFunc("/fanout/pub", func(w http.ResponseWriter, r *http.Request) {
		_ = m.HandleRequestWithKeys(w, r, map[string]any{"pub": true})
	})
}
