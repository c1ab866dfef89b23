package main

import (
	"net/http"
	"sync"

	"github.com/lxzan/gws"
)

// The fan-out routes, as gws's README writes a broadcast: the room's
// sockets in a set, and for each message a gws.Broadcaster that encodes the
// frame once and queues it on every socket's write queue. /fanout joins
// the room; every message sent on /fanout/pub is broadcast to it.

type roomSet struct {
	mu      sync.RWMutex
	sockets map[*gws.Conn]struct{}
}

var room = &roomSet{sockets: map[*gws.Conn]struct{}{}}

type subscriber struct{ gws.BuiltinEventHandler }

func (subscriber) OnOpen(socket *gws.Conn) {
	room.mu.Lock()
	room.sockets[socket] = struct{}{}
	room.mu.Unlock()
}

func (subscriber) OnClose(socket *gws.Conn, err error) {
	room.mu.Lock()
	delete(room.sockets, socket)
	room.mu.Unlock()
}

func (subscriber) OnMessage(socket *gws.Conn, message *gws.Message) { message.Close() }

type publisher struct{ gws.BuiltinEventHandler }

func (publisher) OnMessage(socket *gws.Conn, message *gws.Message) {
	// The broadcaster may still read the payload once OnMessage has
	// returned and the message's buffer is back in gws's pool: a copy.
	payload := append([]byte(nil), message.Bytes()...)
	opcode := message.Opcode
	message.Close()
	b := gws.NewBroadcaster(opcode, payload)
	defer b.Close()
	room.mu.RLock()
	defer room.mu.RUnlock()
	for s := range room.sockets {
		_ = b.Broadcast(s)
	}
}

func serveFanout(mux *http.ServeMux) {
	sub := gws.NewUpgrader(subscriber{}, &gws.ServerOption{})
	pub := gws.NewUpgrader(publisher{}, &gws.ServerOption{ReadMaxPayloadSize: 2 << 20})
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		if socket, err := sub.Upgrade(w, r); err == nil {
			socket.ReadLoop()
		}
	})
	mux.HandleFunc("/fanout/pub", func(w http.ResponseWriter, r *http.Request) {
		if socket, err := pub.Upgrade(w, r); err == nil {
			socket.ReadLoop()
		}
	})
}
