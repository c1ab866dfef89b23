package client_test

// TEMPORARY: a hand-written nows.v1 server to debug the client until
// framework/events is merged; replaced by a real nows server then.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

type env struct {
	Event string          `json:"event,omitempty"`
	ID    int64           `json:"id,omitempty"`
	Reply int64           `json:"reply,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error json.RawMessage `json:"error,omitempty"`
}

type fakeServer struct {
	w     *world
	addr  string
	ln    net.Listener
	srv   *http.Server
	mu    sync.Mutex
	conns map[*websocket.Conn]map[string]bool
	wg    sync.WaitGroup
}

func startFake(t *testing.T, w *world, addr string) *fakeServer {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		panic(err)
	}
	s := &fakeServer{w: w, ln: ln, addr: ln.Addr().String(), conns: map[*websocket.Conn]map[string]bool{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.srv.Serve(ln) }()
	return s
}

func (s *fakeServer) stop() {
	s.srv.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close(websocket.StatusGoingAway, "stop")
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	opts := &websocket.AcceptOptions{Subprotocols: []string{"nows.v1"}}
	switch r.URL.Path {
	case "/missing":
		http.NotFound(w, r)
		return
	case "/plain":
		opts = nil
	}
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	s.conns[c] = map[string]bool{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.CloseNow()
	}()
	if c.Subprotocol() == "" {
		c.Write(r.Context(), websocket.MessageText, []byte("plain"))
		c.Close(websocket.StatusNormalClosure, "")
		return
	}
	ctx := context.Background()
	var pending sync.Map
	next := int64(0)
	ask := func(event string, data json.RawMessage) {
		next++
		ch := make(chan env, 1)
		pending.Store(next, ch)
		b, _ := json.Marshal(env{Event: event, ID: next, Data: data})
		c.Write(ctx, websocket.MessageText, b)
		go func() {
			select {
			case e := <-ch:
				out := e.Data
				if e.Error != nil {
					out = e.Error
				}
				b, _ := json.Marshal(env{Event: "answer", Data: out})
				c.Write(ctx, websocket.MessageText, b)
			case <-time.After(5 * time.Second):
			}
		}()
	}
	if r.URL.Query().Get("ask") != "" {
		ask("double", json.RawMessage("21"))
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		var e env
		json.Unmarshal(msg, &e)
		reply := func(data any, errObj any) {
			out := env{Reply: e.ID}
			if errObj != nil {
				out.Error, _ = json.Marshal(errObj)
			} else {
				out.Data, _ = json.Marshal(data)
			}
			b, _ := json.Marshal(out)
			c.Write(ctx, websocket.MessageText, b)
		}
		var room struct{ Room string }
		json.Unmarshal(e.Data, &room)
		switch e.Event {
		case "":
			if ch, ok := pending.LoadAndDelete(e.Reply); ok {
				ch.(chan env) <- e
			}
		case "nows.join":
			if room.Room == "secret" {
				reply(nil, map[string]string{"code": "forbidden", "message": "no", "event": "nows.join"})
				continue
			}
			s.mu.Lock()
			s.conns[c][room.Room] = true
			s.mu.Unlock()
			reply(room, nil)
		case "nows.leave":
			s.mu.Lock()
			delete(s.conns[c], room.Room)
			s.mu.Unlock()
			reply(room, nil)
		case "echo":
			reply(e.Data, nil)
		case "fail":
			reply(nil, map[string]string{"code": "taken", "message": "name taken", "event": "fail", "field": "name"})
		case "chat.send":
			var in struct{ Room, Text string }
			json.Unmarshal(e.Data, &in)
			if in.Text == "" {
				reply(nil, map[string]string{"code": "invalid", "message": "text is empty", "event": "chat.send", "field": "text"})
				continue
			}
			name := r.URL.Query().Get("name")
			b, _ := json.Marshal(env{Event: "chat.message", Data: mustJSON(map[string]string{"name": name, "text": in.Text})})
			s.mu.Lock()
			for m, rooms := range s.conns {
				if rooms[in.Room] {
					m.Write(ctx, websocket.MessageText, b)
				}
			}
			s.mu.Unlock()
			reply(map[string]int{"id": 1}, nil)
		case "never":
		case "count":
			var n int
			json.Unmarshal(e.Data, &n)
			s.w.add(strconv.Itoa(n))
		case "shout":
			var in struct{ Room, Text string }
			json.Unmarshal(e.Data, &in)
			b, _ := json.Marshal(env{Event: "said", Data: mustJSON(in.Text)})
			s.mu.Lock()
			for m, rooms := range s.conns {
				if rooms[in.Room] {
					m.Write(ctx, websocket.MessageText, b)
				}
			}
			s.mu.Unlock()
		case "ask":
			ask("double", e.Data)
		case "close":
			var code int
			json.Unmarshal(e.Data, &code)
			c.Close(websocket.StatusCode(code), "asked")
			return
		case "plain":
			c.Write(ctx, websocket.MessageText, []byte("hello, plain"))
			c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
		}
	}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// server is the server the tests run against.
type server struct {
	*fakeServer
	stopOnce sync.Once
}

func startServer(t *testing.T, w *world, addr string) *server {
	s := &server{fakeServer: startFake(t, w, addr)}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() { s.stopOnce.Do(s.fakeServer.stop) }

func (s *server) url(path string) string { return "ws://" + s.addr + path }

func exampleServer() (url string, stop func()) {
	s := startFake(nil, newWorld(), "127.0.0.1:0")
	return "ws://" + s.addr + "/ev", s.stop
}
