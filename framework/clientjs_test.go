package framework_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// protoHandler tells the client which subprotocol was negotiated.
type protoHandler struct{}

func (protoHandler) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, "proto="+c.Subprotocol())
}

func (protoHandler) OnMessage(context.Context, *framework.Conn, string) error { return nil }

func httpGet(t *testing.T, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestClientJS(t *testing.T) {
	srv := wstest.NewServer(t, framework.NewBlueprint("", framework.Route[protoHandler]("/{name}/{file}")))
	base := "http://" + srv.Addr
	for _, f := range []struct{ path, file, ctype string }{
		{"/_nows/nows.js", "js/nows.js", "text/javascript; charset=utf-8"},
		{"/_nows/nows.d.ts", "js/nows.d.ts", "application/typescript"},
	} {
		want, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := httpGet(t, http.MethodGet, base+f.path, nil)
		if resp.StatusCode != 200 || body != string(want) || resp.Header.Get("Content-Type") != f.ctype {
			t.Fatalf("GET %s: %d %q %q, want 200 %q with the embedded file", f.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, f.ctype)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", f.path)
		}
		resp, body = httpGet(t, http.MethodGet, base+f.path, map[string]string{"If-None-Match": etag})
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s with its ETag: %d %q, want 304", f.path, resp.StatusCode, body)
		}
		resp, body = httpGet(t, http.MethodHead, base+f.path, nil)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(want)) {
			t.Errorf("HEAD %s: %d, length %d, body %q", f.path, resp.StatusCode, resp.ContentLength, body)
		}
		resp, _ = httpGet(t, http.MethodPost, base+f.path, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q", f.path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// Other paths under /_nows/ are not found, even where a route would
	// match them.
	if resp, _ := httpGet(t, http.MethodGet, base+"/_nows/other.js", nil); resp.StatusCode != 404 {
		t.Errorf("GET /_nows/other.js: %d, want 404", resp.StatusCode)
	}
	if _, _, err := srv.DialOptions(t, "/_nows/x", nil); err == nil {
		t.Errorf("a WebSocket handshake under /_nows/ succeeded")
	}
}

func TestNoClientJS(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fallback") })
	srv := wstest.NewServerOptions(t, framework.Options{NoClientJS: true, Fallback: fallback},
		framework.NewBlueprint("", framework.Route[protoHandler]("/p")))
	resp, body := httpGet(t, http.MethodGet, "http://"+srv.Addr+"/_nows/nows.js", nil)
	if resp.StatusCode != 200 || body != "fallback" {
		t.Errorf("GET /_nows/nows.js with NoClientJS: %d %q, want the fallback", resp.StatusCode, body)
	}
}

func TestReservedPrefix(t *testing.T) {
	for _, bp := range []*framework.Blueprint{
		framework.NewBlueprint("", framework.Route[protoHandler]("/_nows/mine")),
		framework.NewBlueprint("/_nows", framework.Route[protoHandler]("/x")),
		framework.NewBlueprint("/_nows", framework.Route[protoHandler]("")),
	} {
		err := framework.NewServer(framework.Options{}).Register(bp)
		if !errors.Is(err, framework.ErrRouteConflict) || !strings.Contains(err.Error(), "/_nows") ||
			!strings.Contains(err.Error(), "choose another prefix or template") || !strings.Contains(err.Error(), "clientjs_test.go") {
			t.Errorf("Register under /_nows/: %v", err)
		}
	}
	if err := framework.NewServer(framework.Options{}).Register(framework.NewBlueprint("/_nowsy", framework.Route[protoHandler]("/x"))); err != nil {
		t.Errorf("Register /_nowsy/x: %v", err)
	}
}

func TestWithSubprotocols(t *testing.T) {
	srv := wstest.NewServerOptions(t, framework.Options{Subprotocols: []string{"a"}}, framework.NewBlueprint("",
		framework.Route[protoHandler]("/server"),
		framework.Route[protoHandler]("/route").WithSubprotocols("b", "c"),
		framework.Route[protoHandler]("/none").WithSubprotocols(),
	))
	for _, tt := range []struct {
		path   string
		offers []string
		want   string
	}{
		{"/server", []string{"b", "a"}, "a"},
		{"/route", []string{"a", "c", "b"}, "b"},
		{"/route", []string{"a"}, ""},
		{"/route", nil, ""},
		{"/none", []string{"a"}, ""},
	} {
		c, _, err := srv.DialOptions(t, tt.path, &websocket.DialOptions{Subprotocols: tt.offers})
		if err != nil {
			t.Fatalf("dial %s: %v", tt.path, err)
		}
		c.ExpectText("proto=" + tt.want)
		if got := c.Conn().Subprotocol(); got != tt.want {
			t.Errorf("%s offering %v: client sees %q, want %q", tt.path, tt.offers, got, tt.want)
		}
		c.Close()
	}
}
