package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"
	"go.uber.org/goleak"

	"github.com/nowebsocket/nows/examples/echo/blueprints"
	"github.com/nowebsocket/nows/framework"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoServer starts the nows echo example in-process on 127.0.0.1 and
// returns the ws:// URL of its /echo route.
func echoServer(t *testing.T) string {
	t.Helper()
	srv := framework.NewServer(framework.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.Register(blueprints.All(&blueprints.Deps{Logger: slog.New(slog.DiscardHandler)})...); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, framework.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/echo"
}

// handlerServer serves h on 127.0.0.1 and returns its ws:// URL.
func handlerServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { _ = hs.Serve(ln); close(done) }()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
	})
	return "ws://" + ln.Addr().String() + "/"
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEchoCounts(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"text 1 conn", Config{Conns: 1, Messages: 300, Size: 64}},
		{"text 8 conns", Config{Conns: 8, Messages: 800, Size: 100}},
		{"binary 16KiB", Config{Conns: 4, Messages: 200, Size: 16 << 10, Binary: true}},
		{"pipelined", Config{Conns: 3, Messages: 900, Size: 64, Pipeline: 8}},
		{"pipelined binary", Config{Conns: 2, Messages: 400, Size: 5000, Pipeline: 4, Binary: true}},
		{"tiny", Config{Conns: 2, Messages: 50, Size: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.URL = url
			res, err := Run(testContext(t), cfg, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if res.Messages != cfg.Messages {
				t.Errorf("got %d messages, want %d", res.Messages, cfg.Messages)
			}
			if res.Errors != 0 || res.Mismatches != 0 {
				t.Errorf("got %d errors (%d mismatches, first %q), want 0", res.Errors, res.Mismatches, res.FirstError)
			}
			if got := res.Latency.Count(); got != uint64(cfg.Messages) {
				t.Errorf("got %d latency samples, want %d", got, cfg.Messages)
			}
			if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.P999 || res.P999 > res.Max {
				t.Errorf("percentiles out of order: p50 %v p99 %v p999 %v max %v", res.P50, res.P99, res.P999, res.Max)
			}
			if res.MsgsPerSec <= 0 {
				t.Errorf("got %v msgs/s, want > 0", res.MsgsPerSec)
			}
		})
	}
}

func TestEchoDuration(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	res, err := Run(testContext(t), Config{URL: url, Conns: 2, Duration: 200 * time.Millisecond}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages == 0 || res.Errors != 0 {
		t.Errorf("got %d messages and %d errors (%s), want some and 0", res.Messages, res.Errors, res.FirstError)
	}
}

// TestEchoErrors checks that lost connections, wrong echoes and refused
// dials are counted.
func TestEchoErrors(t *testing.T) {
	t.Parallel()
	closer := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		// Echo three messages, then drop the connection.
		for range 3 {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	})
	mangler := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			b[len(b)-1] ^= 1
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	})
	refuser := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})

	t.Run("server closes", func(t *testing.T) {
		t.Parallel()
		res, err := Run(testContext(t), Config{URL: closer, Conns: 4, Messages: 1000}, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 4 {
			t.Errorf("got %d errors, want 4 (one per lost connection)", res.Errors)
		}
		if res.Messages != 12 {
			t.Errorf("got %d messages, want 12", res.Messages)
		}
		if res.FirstError == "" {
			t.Error("got no first error, want one")
		}
	})
	t.Run("wrong echo", func(t *testing.T) {
		t.Parallel()
		res, err := Run(testContext(t), Config{URL: mangler, Conns: 2, Messages: 40, Binary: true, Pipeline: 2}, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mismatches != 40 || res.Errors != 40 {
			t.Errorf("got %d mismatches, %d errors, want 40 and 40", res.Mismatches, res.Errors)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		res, err := Run(testContext(t), Config{URL: refuser, Conns: 3, Messages: 10}, io.Discard, io.Discard)
		if !errors.Is(err, ErrNoConnection) {
			t.Errorf("got error %v, want ErrNoConnection", err)
		}
		if res.Errors != 3 {
			t.Errorf("got %d errors, want 3", res.Errors)
		}
	})
	t.Run("refused handshakes", func(t *testing.T) {
		t.Parallel()
		res, err := Run(testContext(t), Config{URL: refuser, Conns: 2, Handshakes: 10}, io.Discard, io.Discard)
		if !errors.Is(err, ErrNoConnection) {
			t.Errorf("got error %v, want ErrNoConnection", err)
		}
		if res.Errors != 10 || !strings.Contains(res.FirstError, "403") {
			t.Errorf("got %d errors (%q), want 10 with a 403", res.Errors, res.FirstError)
		}
	})
}

func TestIdle(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	held := -1
	res, err := Run(testContext(t), Config{URL: url, Idle: 200, Hold: 50 * time.Millisecond, Held: func(n int) { held = n }}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 200 || res.Alive != 200 || held != 200 || res.Errors != 0 {
		t.Errorf("got opened %d, alive %d, held %d, errors %d (%s), want 200, 200, 200, 0",
			res.Opened, res.Alive, held, res.Errors, res.FirstError)
	}
	if res.FileLimit < 264 {
		t.Errorf("got file limit %d, want at least 264", res.FileLimit)
	}
}

func TestHandshakes(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	res, err := Run(testContext(t), Config{URL: url, Handshakes: 300, Conns: 8}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 300 || res.Errors != 0 || res.UncleanCloses != 0 {
		t.Errorf("got %d ok, %d errors (%s), %d unclean closes, want 300, 0, 0", res.Opened, res.Errors, res.FirstError, res.UncleanCloses)
	}
	if res.HandshakesPerSec <= 0 {
		t.Errorf("got %v handshakes/s, want > 0", res.HandshakesPerSec)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	var out bytes.Buffer
	_, err := Run(testContext(t), Config{URL: url, Conns: 2, Messages: 20, JSON: true}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("got more than one JSON value on stdout, want one")
	}
	want := map[string]any{"mode": "echo", "url": url, "conns": 2.0, "messages": 20.0, "errors": 0.0, "size": 64.0, "binary": false, "pipeline": 1.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("got %s = %v, want %v", k, m[k], v)
		}
	}
	for _, k := range []string{"msgs_per_sec", "p50_us", "p99_us", "p999_us", "min_us", "max_us", "mean_us", "elapsed_s", "mismatches", "handshakes_per_sec", "opened", "alive", "file_limit"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("got %s = %#v, want a number", k, m[k])
		}
	}
}

// TestCommand runs the urfave app, whose help flag is a package global
// that every run writes: it must not run in parallel with itself.
func TestCommand(t *testing.T) {
	url := echoServer(t)
	tests := []struct {
		name    string
		args    []string
		line    *regexp.Regexp
		wantErr string
	}{
		{"echo", []string{"--messages", "50", "--conns", "2", "--no-color", url},
			regexp.MustCompile(`(?m)^bench: url=\S+ conns=2 msgs=50 msgs/s=\d+ p50=\S+ p99=\S+ p999=\S+ errors=0$`), ""},
		{"idle", []string{"--idle", "10", "--hold", "10ms", url},
			regexp.MustCompile(`(?m)^bench: url=\S+ idle=10 opened=10 alive=10 open_time=\S+ hold=\S+ errors=0$`), ""},
		{"handshakes", []string{"--handshakes", "20", "--conns", "4", url},
			regexp.MustCompile(`(?m)^bench: url=\S+ handshakes=20 conns=4 ok=20 handshakes/s=\d+ errors=0$`), ""},
		{"no URL", nil, nil, "exactly one URL"},
		{"both", []string{"--duration", "1s", "--messages", "5", url}, nil, "one of --duration and --messages"},
		{"wss", []string{"wss://example.com/"}, nil, "wss is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			app := &cli.App{Name: "nows", Writer: &out, ErrWriter: &errOut, Commands: []*cli.Command{Command()}}
			err := app.RunContext(testContext(t), append([]string{"nows", "bench"}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if !tt.line.MatchString(out.String()) {
				t.Errorf("got output\n%s\nwant a line matching %s", out.String(), tt.line)
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Errorf("got colour codes in output to a buffer:\n%q", out.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("got stderr %q, want nothing (not a terminal)", errOut.String())
			}
		})
	}
}
