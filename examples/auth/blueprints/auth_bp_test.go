package blueprints_test

import (
	"flag"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/auth/blueprints"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// demoDeps are the Deps of main without --tokens: the demo tokens, and
// the handlers' logs in t.Log.
func demoDeps(t *testing.T) *blueprints.Deps {
	return &blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
}

func TestAuthRejects(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, blueprints.Auth(demoDeps(t)))
	testCases := []struct {
		name, path, header, wantBody string
	}{
		{"no token", "/auth", "", "missing token"},
		{"bad query token", "/auth?token=mallory", "", "invalid token"},
		{"bad bearer token", "/auth", "Bearer mallory", "invalid token"},
		{"token of another scheme", "/auth", "Basic YWxpY2U6eA==", "missing token"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
			if tc.header != "" {
				opts.HTTPHeader.Set("Authorization", tc.header)
			}
			_, resp, err := srv.DialOptions(t, tc.path, opts)
			if err == nil {
				t.Fatal("handshake succeeded, want 401")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got response %v, want 401", resp)
			}
			body, _ := io.ReadAll(resp.Body)
			if got := strings.TrimSpace(string(body)); got != tc.wantBody {
				t.Fatalf("got body %q, want %q", got, tc.wantBody)
			}
		})
	}
}

func TestAuthPerUserState(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, blueprints.Auth(demoDeps(t)))

	alice, _, err := srv.DialOptions(t, "/auth", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer alice-token"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	bob := srv.Dial(t, "/auth?token=bob-token") // the browser way
	alice.ExpectText("hello alice")
	bob.ExpectText("hello bob")

	alice.SendText("one")
	alice.ExpectText("alice #1: one")
	alice.SendText("two")
	alice.ExpectText("alice #2: two")
	bob.SendText("first")
	bob.ExpectText("bob #1: first") // bob's count is his own
	bob.SendText("whoami")
	bob.ExpectText("bob")
	alice.SendText("whoami")
	alice.ExpectText("alice")
	alice.Close()
	bob.Close()
}

func TestParseTokens(t *testing.T) {
	t.Parallel()
	got, err := blueprints.ParseTokens("t1=ann, t2=ben")
	want := map[string]string{"t1": "ann", "t2": "ben"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "t1", "=ann", "t1=", "t1=ann,,t2=ben"} {
		if _, err := blueprints.ParseTokens(bad); err == nil {
			t.Errorf("ParseTokens(%q): got no error", bad)
		}
	}
}

// TestTokensFlag sets the tokens as main does: --tokens wins over
// NOWS_TOKENS, which replaces the demo tokens; a bad NOWS_TOKENS accepts
// no one.
func TestTokensFlag(t *testing.T) {
	parse := func(env string, args ...string) *blueprints.Deps {
		t.Helper()
		t.Setenv("NOWS_TOKENS", env)
		d := demoDeps(t)
		fs := flag.NewFlagSet("auth", flag.ContinueOnError)
		d.BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := parse("env=eve", "--tokens", "flag=fay"); !maps.Equal(d.Tokens, map[string]string{"flag": "fay"}) {
		t.Errorf("--tokens and NOWS_TOKENS: got %v, want the flag's", d.Tokens)
	}
	srv := wstest.NewServer(t, blueprints.All(parse("env=eve"))...)
	eve := srv.Dial(t, "/auth?token=env")
	eve.ExpectText("hello eve")
	eve.Close()
	if _, resp, err := srv.DialOptions(t, "/auth?token=alice-token", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("demo token with NOWS_TOKENS set: got %v, want 401", resp)
	}
	if d := parse("no equals sign"); d.Tokens == nil || len(d.Tokens) != 0 {
		t.Errorf("bad NOWS_TOKENS: got %v, want no token accepted", d.Tokens)
	}
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	demoDeps(t).BindFlags(fs)
	if err := fs.Parse([]string{"--tokens", "t1"}); err == nil {
		t.Error("--tokens t1: got no error")
	}
}
