package framework_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// TestRequestKept checks what Conn.Request returns for a connection: the
// handshake's method, URL, headers (every value, in order), host and
// remote address, an empty body and the connection's context; the same
// request on every call, also from several goroutines at once.
func TestRequestKept(t *testing.T) {
	t.Parallel()
	srv := serve(t, framework.Options{})
	p := newProbe(t)
	client := dialRaw(t, srv.Addr, p.path("/probe")+"&q=a%20b&q=c",
		"X-Multi: one", "X-Multi: two", "Cookie: session=s1", "X-Token: t0k:en")
	defer client.nc.Close()
	c := p.waitOpen(t)

	var wg sync.WaitGroup
	got := make([]*http.Request, 8)
	for i := range got {
		wg.Go(func() { got[i] = c.Request() })
	}
	wg.Wait()
	r := got[0]
	for i, g := range got {
		if g != r {
			t.Fatalf("call %d returned another request", i)
		}
	}
	if r.Method != http.MethodGet || r.URL.Path != "/probe" || r.URL.Query()["q"][0] != "a b" || r.URL.Query()["q"][1] != "c" {
		t.Errorf("request line: %s %s", r.Method, r.URL)
	}
	if v := r.Header.Values("X-Multi"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("X-Multi = %q, want [one two]", v)
	}
	if v := r.Header.Get("X-Token"); v != "t0k:en" {
		t.Errorf("X-Token = %q, want a value with a colon kept whole", v)
	}
	if ck, err := r.Cookie("session"); err != nil || ck.Value != "s1" {
		t.Errorf("cookie session: %v, %v", ck, err)
	}
	if r.Header.Get("Sec-Websocket-Key") == "" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		t.Errorf("the handshake headers are missing: %v", r.Header)
	}
	if r.Host != srv.Addr || r.RemoteAddr != c.RemoteAddr() || r.RemoteAddr == "" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("host %q remote %q (Conn says %q) proto %d.%d", r.Host, r.RemoteAddr, c.RemoteAddr(), r.ProtoMajor, r.ProtoMinor)
	}
	if r.Body != http.NoBody || r.Context() != c.Context() || r.TLS != nil {
		t.Errorf("body %v, context the connection's: %v, TLS %v", r.Body, r.Context() == c.Context(), r.TLS)
	}
	client.closeNormally()
	p.waitClose(t)
}
