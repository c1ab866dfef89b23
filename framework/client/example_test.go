package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/history"
)

// runBot is a bot: it answers the server's "bot.status" requests, joins
// the lobby, says hello and prints what is said there until ctx ends.
func runBot(ctx context.Context, url string) error {
	c := client.New(url+"?name=bot", &client.Options{Logger: quiet})
	defer c.Close()
	c.On("chat.message", func(data json.RawMessage) {
		var msg struct{ Name, Text string }
		if json.Unmarshal(data, &msg) == nil {
			fmt.Printf("%s: %s\n", msg.Name, msg.Text)
		}
	})
	c.Handle("bot.status", func(ctx context.Context, data json.RawMessage) (any, error) {
		return map[string]string{"status": "ok"}, nil
	})
	if err := c.Connect(ctx); err != nil {
		return err
	}
	if err := c.Join(ctx, "lobby"); err != nil {
		return err
	}
	err := c.Request(ctx, "chat.send", map[string]string{"room": "lobby", "text": "hello"}, nil)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Example runs a bot against a nows server for a moment.
func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := runBot(ctx, url); err != nil {
		fmt.Println(err)
	}
	// Output: bot: hello
}

// ExampleClient_Request sends a request and reads the server's error.
func ExampleClient_Request() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, err := client.Dial(ctx, url, &client.Options{Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	var ack struct{ ID int }
	err = c.Request(ctx, "chat.send", map[string]string{"room": "lobby", "text": "hi"}, &ack)
	fmt.Println(ack.ID, err)
	err = c.Request(ctx, "chat.send", map[string]string{"room": "lobby", "text": ""}, &ack)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Field)
	}
	// Output:
	// 1 <nil>
	// empty text
}

// ExampleClient_OnState watches the connection come and go.
func ExampleClient_OnState() {
	url, stop := exampleServer()
	c := client.New(url, &client.Options{Logger: quiet, MinDelay: time.Millisecond})
	defer c.Close()
	states := make(chan client.State, 10)
	c.OnState(func(s client.State, err error) {
		select {
		case states <- s:
		default: // never block the client's handlers
		}
	})
	if err := c.Connect(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-states)
	stop() // the server goes away: the client tries again, and again
	fmt.Println(<-states)
	fmt.Println(<-states)
	// Output:
	// connected
	// disconnected
	// reconnecting
}

// ExampleClient_OnRecovery tells the app, after each join of a room with
// history, whether the messages it missed while away will come.
func ExampleClient_OnRecovery() {
	w := newWorld()
	w.withHistory(history.NewMemory(), 100) // the server keeps "news"
	s, err := serve(w, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	c := client.New(s.url("/ev"), &client.Options{Logger: quiet, MinDelay: time.Millisecond})
	defer c.Close()
	told := make(chan string, 10)
	c.OnRecovery(func(r client.Recovery) {
		switch {
		case r.Recovered:
			told <- r.Room + ": what was missed comes now"
		case r.Reason == "":
			told <- r.Room + ": joined"
		default:
			told <- r.Room + ": messages lost (" + string(r.Reason) + "): fetch the state again"
		}
	})
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Join(ctx, "news"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-told)
	for _, store := range []history.Store{nil, history.NewMemory()} {
		s.stop() // the server restarts: with its store, then with a new one
		if store != nil {
			w.withHistory(store, 100)
		}
		if s, err = serve(w, s.addr); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(<-told)
	}
	s.stop()
	// Output:
	// news: joined
	// news: what was missed comes now
	// news: messages lost (epoch): fetch the state again
}
