package framework

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// A kept request gives back what the handshake request had, for a request
// from a client (RequestURI set) and for one built in code (URL only).
func TestKeptRequest(t *testing.T) {
	fromClient := &http.Request{Method: "GET", RequestURI: "/chat/7?token=a%20b", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: "example.com", RemoteAddr: "10.0.0.1:5000", Header: http.Header{"Origin": {"https://example.com"}, "X-Two": {"a", "b"}}}
	inCode := &http.Request{Method: "GET", URL: &url.URL{Path: "/chat/8", RawQuery: "x=1"}, Proto: "HTTP/1.0", ProtoMajor: 1, ProtoMinor: 0, Header: http.Header{}}
	for _, tc := range []struct {
		r               *http.Request
		wantURL, wantRU string
	}{
		{fromClient, "/chat/7?token=a%20b", "/chat/7?token=a%20b"},
		{inCode, "/chat/8?x=1", ""},
	} {
		var k keptRequest
		k.keep(tc.r)
		got := k.request(context.Background())
		if got.URL.String() != tc.wantURL || got.RequestURI != tc.wantRU {
			t.Errorf("URL %q RequestURI %q, want %q and %q", got.URL, got.RequestURI, tc.wantURL, tc.wantRU)
		}
		if got.ProtoMajor != tc.r.ProtoMajor || got.ProtoMinor != tc.r.ProtoMinor || got.Proto != tc.r.Proto || got.Method != tc.r.Method {
			t.Errorf("%s %s %d.%d, want %s %s %d.%d", got.Method, got.Proto, got.ProtoMajor, got.ProtoMinor, tc.r.Method, tc.r.Proto, tc.r.ProtoMajor, tc.r.ProtoMinor)
		}
		if got.Host != tc.r.Host || got.RemoteAddr != tc.r.RemoteAddr || len(got.Header) != len(tc.r.Header) {
			t.Errorf("host %q remote %q header %v, want %q %q %v", got.Host, got.RemoteAddr, got.Header, tc.r.Host, tc.r.RemoteAddr, tc.r.Header)
		}
		for name, vs := range tc.r.Header {
			if g := got.Header[name]; len(g) != len(vs) || g[0] != vs[0] || g[len(g)-1] != vs[len(vs)-1] {
				t.Errorf("header %s: %q, want %q", name, g, vs)
			}
		}
	}
}
