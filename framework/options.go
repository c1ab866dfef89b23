package framework

import (
	"log/slog"
	"net/http"
	"time"
)

// Options configures a Server. The zero value of every field means its
// default, so Options{} is a complete, safe configuration.
type Options struct {
	// Addr is where ListenAndServe listens. Defaults to "0.0.0.0:8765".
	// With ReusePort (SO_REUSEPORT, Linux only), the processes that set it
	// share Addr, and the kernel spreads the connections among them.
	Addr      string
	ReusePort bool

	// MaxHeaderBytes limits the handshake request's line and headers; a
	// larger request gets 431. Defaults to 4096.
	MaxHeaderBytes int

	// MaxMessageBytes limits one message (after decompression); a larger one
	// closes with 1009 once a frame header announces it. Defaults to 2 MiB.
	MaxMessageBytes int64

	// MessageRate limits the messages per second of one connection, with
	// bursts of MessageBurst (default: the rate rounded up); over it, 1008
	// (CauseRateLimit). Defaults to 0: no limit.
	MessageRate  float64
	MessageBurst int

	// ByteRate limits the bytes per second of one connection, on the
	// wire, with bursts of ByteBurst (default: ByteRate); over it, 1008.
	// Defaults to 0: no limit.
	ByteRate  int64
	ByteBurst int64

	// MaxConns limits the server's connections, MaxConnsPerIP those of
	// one client address (IPv4, or an IPv6 /64); over either, 503 with
	// Retry-After. Defaults to 0: no limit.
	MaxConns      int
	MaxConnsPerIP int

	// ReadTimeout closes a connection that has received nothing for this
	// long with 1001 (CauseIdle). Negative disables it. Defaults to 1800 s.
	ReadTimeout time.Duration

	// HandshakeTimeout bounds the reading of the handshake request under
	// Serve (the slowloris defence). Defaults to 10 s.
	HandshakeTimeout time.Duration

	// WriteTimeout closes a connection whose client took no bytes for this
	// long while a write waited (CauseSlow); negative disables. Defaults to 10 s.
	WriteTimeout time.Duration

	// ShutdownTimeout bounds Serve's graceful shutdown. Defaults to 10 s.
	ShutdownTimeout time.Duration

	// PingInterval, when positive, pings connections quiet for this long
	// and closes with 1001 (CausePingTimeout) those whose pong is later
	// than PongTimeout (default: PingInterval). Defaults to 0: no pings.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// AllowedOrigins lists the host patterns (path.Match syntax;
	// "scheme://host" with "://"; "*" for all) of the other sites whose
	// pages may connect; others get 403. Defaults to same-origin only.
	AllowedOrigins []string

	// Subprotocols lists the subprotocols to negotiate, preferred first.
	Subprotocols []string

	// NoClientJS turns off /_nows/nows.js and nows.d.ts (see ServeHTTP).
	NoClientJS bool

	// Compression enables permessage-deflate with clients that offer it.
	Compression bool

	// ParamTypes adds route parameter types by name (a Go identifier): the
	// function, safe for concurrent use, gets the percent-decoded segment
	// and returns the value Params.Get gives, or an error for no match.
	ParamTypes map[string]func(seg string) (any, error)

	// Fallback serves the requests that match no route (a page, a health
	// check). Defaults to 404.
	Fallback http.Handler

	// Logger receives the server's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// Hub links the server's rooms with other nodes (see Hub).
	Hub HubOptions

	// SendQueue bounds each connection's queue of broadcasts.
	SendQueue QueueOptions

	// Observer, when set, sees what happens on the server (see Observer).
	Observer Observer

	flags *flagState // what BindFlags learned (flags.go)
}

// The defaults of Options, as their docs state them.
const (
	defaultAddr             = "0.0.0.0:8765"
	defaultMaxHeaderBytes   = 4096
	defaultMaxMessageBytes  = 2 << 20
	defaultReadTimeout      = 1800 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
	defaultWriteTimeout     = 10 * time.Second
	defaultShutdownTimeout  = 10 * time.Second

	// Each connection holds, for coder/websocket, a read buffer (frame
	// headers and small payloads; larger payloads are read straight into
	// the message) and a write buffer. Both are small: every idle
	// connection holds them. The socket is read, up to 4 KiB at a time,
	// into a pooled buffer taken only once it has bytes (readSocket and
	// awaitData in netconn.go). coder writes only control frames (at most
	// 127 bytes, one write each) except on a connection that compresses,
	// whose larger frames the wire layer still sends in one writev
	// (coalesce.go); nows writes its data frames itself (frames.go).
	// 64 bytes hold any frame header (14 at most); a longer payload is
	// read straight into its destination, and a longer control frame
	// goes to the wire layer in two writes that it sends as one.
	readBufferSize  = 64
	writeBufferSize = 64
)

func (o Options) withDefaults() Options {
	setDefault(&o.Addr, defaultAddr)
	setDefault(&o.MaxHeaderBytes, defaultMaxHeaderBytes)
	setDefault(&o.MaxMessageBytes, defaultMaxMessageBytes)
	setDefault(&o.ReadTimeout, defaultReadTimeout)
	setDefault(&o.HandshakeTimeout, defaultHandshakeTimeout)
	setDefault(&o.WriteTimeout, defaultWriteTimeout)
	setDefault(&o.ShutdownTimeout, defaultShutdownTimeout)
	setDefault(&o.PongTimeout, o.PingInterval)
	o.MessageBurst, o.ByteBurst = rateBursts(o) // ratelimit.go
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Hub = o.Hub.withDefaults()
	o.SendQueue = o.SendQueue.withDefaults(defaultQueue)
	return o
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
