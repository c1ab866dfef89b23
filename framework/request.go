package framework

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// keptRequest is what a connection keeps of its handshake request for
// Conn.Request: the request line, the headers as one string and the TLS
// state. An idle connection then holds a few hundred bytes instead of the
// request, its header map and its URL (about 1 KiB); Request builds the
// *http.Request from it on first use and keeps that.
type keptRequest struct {
	method, uri, proto, host, remote, pattern string
	header                                    string // "Name:value\n" for each value, names as net/http keyed them
	tls                                       *tls.ConnectionState
	built                                     atomic.Pointer[http.Request]
	major, minor                              uint8
	uriIsURL                                  bool // uri is r.URL: r had no RequestURI (a request not from a client)
}

// keep records what Request needs of r.
func (k *keptRequest) keep(r *http.Request) {
	k.method, k.uri, k.proto, k.host, k.remote, k.pattern = r.Method, r.RequestURI, r.Proto, r.Host, r.RemoteAddr, r.Pattern
	k.major, k.minor, k.tls = uint8(r.ProtoMajor), uint8(r.ProtoMinor), r.TLS // net/http accepts HTTP/1.x
	if k.uri == "" && r.URL != nil {
		k.uri, k.uriIsURL = r.URL.String(), true
	}
	n := 0
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 2
		}
	}
	var b strings.Builder
	b.Grow(n)
	for name, values := range r.Header {
		for _, v := range values {
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	k.header = b.String()
}

// request returns the handshake request, with ctx as its context, built
// on first use.
func (k *keptRequest) request(ctx context.Context) *http.Request {
	if r := k.built.Load(); r != nil {
		return r
	}
	r := (&http.Request{
		Method: k.method, Proto: k.proto, ProtoMajor: int(k.major), ProtoMinor: int(k.minor),
		Header: k.parseHeader(), Body: http.NoBody, Host: k.host, RemoteAddr: k.remote,
		RequestURI: k.uri, TLS: k.tls, Pattern: k.pattern,
	}).WithContext(ctx)
	// net/http parsed the same request URI when it accepted the handshake.
	if k.uriIsURL {
		r.RequestURI = ""
		r.URL, _ = url.Parse(k.uri)
	} else {
		r.URL, _ = url.ParseRequestURI(k.uri)
	}
	if r.URL == nil {
		r.URL = &url.URL{}
	}
	if !k.built.CompareAndSwap(nil, r) {
		return k.built.Load()
	}
	return r
}

// parseHeader rebuilds the header map from k.header.
func (k *keptRequest) parseHeader() http.Header {
	h := make(http.Header, strings.Count(k.header, "\n"))
	for line := range strings.SplitSeq(k.header, "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok {
			h[name] = append(h[name], v)
		}
	}
	return h
}
