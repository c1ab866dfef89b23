package main

import (
	"context"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// The fan-out routes, as a user of raw coder/websocket writes a room: a hub
// of clients, each with a buffered channel drained by its own writer
// goroutine (the handler's, writing with a context without Done, the fast
// way), its reads left to CloseRead. A client whose
// channel is full is dropped, as slow consumers are in coder's chat
// example. /fanout joins the room; every message sent on /fanout/pub is
// broadcast to it.

type client struct{ send chan []byte }

type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

var room = &hub{clients: map[*client]struct{}{}}

func (h *hub) broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- msg:
		default: // too slow: drop it
			delete(h.clients, c)
			close(c.send)
		}
	}
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.send)
	}
}

func subscribe(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	done := c.CloseRead(context.Background()).Done() // ends with the connection
	ctx := context.Background()                      // no Done for Write: coder's fast path
	cl := &client{send: make(chan []byte, 256)}
	room.mu.Lock()
	room.clients[cl] = struct{}{}
	room.mu.Unlock()
	defer room.leave(cl)
	for {
		select {
		case msg, ok := <-cl.send:
			if !ok {
				c.Close(websocket.StatusPolicyViolation, "too slow")
				return
			}
			if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
				return
			}
		case <-done:
			return
		}
	}
}

func publish(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(2 << 20)
	for {
		_, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		room.broadcast(msg) // Read returns a fresh slice: shared as is
	}
}
