package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"nows": func() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the scripts of testdata/script with the real nows
// binary: they create projects, build them, run them and talk to them.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs generated projects")
	}
	goEnv := goEnvOnce(t)
	checkout, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NOWS_CHECKOUT", checkout)
			for k, v := range goEnv {
				env.Setenv(k, v)
			}
			bin := filepath.Join(env.WorkDir, "bin")
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("NO_COLOR", "1")
			// Scripts run in parallel: each app's admin listener on a port
			// of its own (admin.txtar unsets it to check the default).
			env.Setenv("NOWS_ADMIN_ADDR", "127.0.0.1:0")
			return os.MkdirAll(bin, 0o755)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreeport,
			"httpget":    cmdHTTPGet,
			"replace":    cmdReplace,
			"snapserver": cmdSnapserver,
			"wsclient":   cmdWsclient,
		},
	})
}

var (
	goEnvMu  sync.Mutex
	goEnvMap map[string]string
)

// goEnvOnce returns the Go environment the scripts share with this test,
// so that they reuse its build and module caches.
func goEnvOnce(t *testing.T) map[string]string {
	t.Helper()
	goEnvMu.Lock()
	defer goEnvMu.Unlock()
	if goEnvMap != nil {
		return goEnvMap
	}
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GOPRIVATE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	if err := json.Unmarshal(out, &goEnvMap); err != nil {
		t.Fatalf("go env: %v", err)
	}
	// -mod=mod: the generated go.mod may be completed from the module cache.
	goEnvMap["GOFLAGS"] = strings.TrimSpace(goEnvMap["GOFLAGS"] + " -mod=mod")
	goEnvMap["GOTOOLCHAIN"] = "local"
	goEnvMap["GOWORK"] = "off"
	goEnvMap["CGO_ENABLED"] = "0"
	return goEnvMap
}

// cmdFreeport sets the environment variable named by its argument to a free
// TCP port on 127.0.0.1.
//
//	freeport PORT
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

// cmdSnapserver serves FILE as the admin listener's GET /api/snapshot (any
// query) on a free port of 127.0.0.1, until the script ends, and sets the
// environment variable VAR to its base URL, http://127.0.0.1:port. Other
// paths answer 404.
//
//	snapserver VAR FILE
func cmdSnapserver(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: snapserver VAR FILE")
	}
	body, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	srv := httptest.NewServer(mux)
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}

// cmdHTTPGet gets URL and writes the body to stdout. It retries, every
// 50 ms for at most -timeout, while nothing listens or, with -match, while
// the body does not match REGEXP; then it fails with the last body.
//
//	httpget [-timeout 30s] [-match REGEXP] URL
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	timeout, match := 30*time.Second, (*regexp.Regexp)(nil)
	for len(args) >= 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-timeout":
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			timeout = d
		case "-match":
			re, err := regexp.Compile(args[1])
			ts.Check(err)
			match = re
		default:
			ts.Fatalf("httpget: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpget [-timeout D] [-match REGEXP] URL")
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(args[0])
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			ts.Check(rerr)
			if resp.StatusCode != http.StatusOK {
				ts.Fatalf("httpget %s: %s\n%s", args[0], resp.Status, body)
			}
			if match == nil || match.Match(body) {
				ts.Stdout().Write(body)
				return
			}
			last = string(body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			ts.Fatalf("httpget %s: nothing matching %v within %v; last:\n%s", args[0], match, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdReplace replaces the one occurrence of OLD in FILE with NEW; \n and
// \t in OLD and NEW are a newline and a tab. It fails when OLD is not in
// the file exactly once, so that a script editing a generated file notices
// when the template changes.
//
//	replace FILE OLD NEW
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	unescape := strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace
	file, old, repl := ts.MkAbs(args[0]), unescape(args[1]), unescape(args[2])
	data, err := os.ReadFile(file)
	ts.Check(err)
	if n := strings.Count(string(data), old); n != 1 {
		ts.Fatalf("replace: %q occurs %d times in %s, want once", old, n, args[0])
	}
	ts.Check(os.WriteFile(file, []byte(strings.Replace(string(data), old, repl, 1)), 0o644))
}

// cmdWsclient connects to a WebSocket URL (retrying while nothing listens,
// for at most -timeout) and runs steps in order:
//
//	send:TEXT        send a text message
//	sendbin:HEX      send a binary message
//	expect:TEXT      the next message is this text
//	expectbin:HEX    the next message is this binary
//	expectclose:CODE the server closes the connection with CODE
//	close            close normally (1000)
//	cp:SRC:DST       copy the file SRC to DST (paths relative to the script's directory)
//	redial           connect again, retrying while nothing listens
//
//	wsclient [-timeout 30s] [-protocol P] URL step...
//
// -protocol offers the subprotocol P (such as nows.v1), which the server
// must choose. With !, the command must fail (for example, the dial is
// refused with a 404).
func cmdWsclient(ts *testscript.TestScript, neg bool, args []string) {
	timeout, protocol := 30*time.Second, ""
	for len(args) >= 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-timeout":
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			timeout = d
		case "-protocol":
			protocol = args[1]
		default:
			ts.Fatalf("wsclient: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) < 1 {
		ts.Fatalf("usage: wsclient [-timeout D] [-protocol P] URL step...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wsclient(ctx, ts, args[0], protocol, args[1:])
	switch {
	case err != nil && !neg:
		ts.Fatalf("wsclient: %v", err)
	case err == nil && neg:
		ts.Fatalf("wsclient: unexpected success")
	case err != nil:
		ts.Logf("wsclient: %v (as expected)", err)
	}
}

func wsclient(ctx context.Context, ts *testscript.TestScript, url, protocol string, steps []string) error {
	c, err := dial(ctx, url, protocol)
	if err != nil {
		return err
	}
	defer func() {
		if c != nil {
			c.CloseNow()
		}
	}()
	for _, step := range steps {
		op, arg, _ := strings.Cut(step, ":")
		switch op {
		case "send", "sendbin":
			typ, data := websocket.MessageText, []byte(arg)
			if op == "sendbin" {
				if typ, data, err = websocket.MessageBinary, nil, nil; true {
					data, err = hex.DecodeString(arg)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", step, err)
				}
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
		case "expect", "expectbin":
			typ, data, err := c.Read(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
			want, wantData := websocket.MessageText, []byte(arg)
			if op == "expectbin" {
				want = websocket.MessageBinary
				if wantData, err = hex.DecodeString(arg); err != nil {
					return fmt.Errorf("%s: %w", step, err)
				}
			}
			if typ != want || string(data) != string(wantData) {
				return fmt.Errorf("%s: got %v %q, want %v %q", step, typ, data, want, wantData)
			}
			ts.Logf("wsclient: %s ok", step)
		case "expectclose":
			code, err := strconv.Atoi(arg)
			if err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
			_, data, err := c.Read(ctx)
			if err == nil {
				return fmt.Errorf("%s: got message %q, want close %d", step, data, code)
			}
			if got := websocket.CloseStatus(err); got != websocket.StatusCode(code) {
				return fmt.Errorf("%s: got %v, want close %d", step, err, code)
			}
			ts.Logf("wsclient: %s ok", step)
		case "close":
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
			c = nil
		case "cp":
			src, dst, ok := strings.Cut(arg, ":")
			if !ok {
				return fmt.Errorf("%s: want cp:SRC:DST", step)
			}
			if err := copyFile(ts.MkAbs(src), ts.MkAbs(dst)); err != nil {
				return err
			}
		case "redial":
			if c != nil {
				c.CloseNow()
			}
			if c, err = dial(ctx, url, protocol); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown step %q", step)
		}
	}
	return nil
}

// dial connects to url, retrying while the connection is refused. With a
// protocol, it offers it and fails unless the server chooses it.
func dial(ctx context.Context, url, protocol string) (*websocket.Conn, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var opts websocket.DialOptions
	if protocol != "" {
		opts.Subprotocols = []string{protocol}
	}
	for {
		c, _, err := websocket.Dial(ctx, url, &opts)
		if err == nil && c.Subprotocol() != protocol {
			c.CloseNow()
			return nil, fmt.Errorf("dial %s: the server chose subprotocol %q, want %q", url, c.Subprotocol(), protocol)
		}
		if err == nil {
			c.SetReadLimit(1 << 20)
			return c, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) {
			return nil, fmt.Errorf("dial %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial %s: %w", url, err)
		case <-tick.C:
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
