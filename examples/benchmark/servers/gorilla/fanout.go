package main

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// The fan-out routes, as gorilla's chat example writes a room: a hub
// goroutine owning the clients, each client with a buffered channel and a
// writePump goroutine, a readPump on the handler's goroutine; a client
// whose channel is full is dropped. Each broadcast is encoded once, as a
// websocket.PreparedMessage. /fanout joins the room; every message sent on
// /fanout/pub is broadcast to it.

type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
}

type hub struct {
	clients    map[*client]bool
	broadcast  chan *websocket.PreparedMessage
	register   chan *client
	unregister chan *client
}

var room = &hub{
	clients:    map[*client]bool{},
	broadcast:  make(chan *websocket.PreparedMessage),
	register:   make(chan *client),
	unregister: make(chan *client),
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				close(c.send)
			}
		case m := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- m:
				default:
					close(c.send)
					delete(h.clients, c)
				}
			}
		}
	}
}

const writeWait = 10 * time.Second

func (c *client) writePump() {
	defer c.conn.Close()
	for m := range c.send {
		_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := c.conn.WritePreparedMessage(m); err != nil {
			return
		}
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"), time.Now().Add(writeWait))
}

func subscribe(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, 256)}
	room.register <- c
	go c.writePump()
	// readPump: the client says nothing, but its control frames must be read.
	defer func() { room.unregister <- c; conn.Close() }()
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

func publish(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(2 << 20)
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(typ, msg)
		if err != nil {
			return
		}
		room.broadcast <- pm
	}
}
