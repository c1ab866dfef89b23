package framework

import (
	"log/slog"
	"net/http"
	"time"
)

// Options configures a Server. The zero value of every field means its
// default, so Options{} is a complete, safe configuration.
type Options struct {
	// Addr is the TCP address ListenAndServe listens on.
	// Defaults to "0.0.0.0:8765".
	Addr string

	// MaxHeaderBytes limits the size of the handshake request's line and
	// headers; a larger request gets 431 Request Header Fields Too Large.
	// Defaults to 4096.
	MaxHeaderBytes int

	// MaxMessageBytes limits the size of one message (after decompression);
	// a larger one closes the connection with 1009 Message Too Big, as soon
	// as a frame header announces it. Defaults to 2 MiB.
	MaxMessageBytes int64

	// MessageRate limits how many messages per second one connection may
	// send, as a token bucket holding MessageBurst messages: a connection
	// that sends faster is closed with 1008 Policy Violation
	// (CauseRateLimit). Rates are measured as the server reads, so a hook
	// that blocks lets messages pile up that then count at once: keep
	// MessageBurst above what arrives during the longest hook.
	// Defaults to 0: no limit.
	MessageRate float64

	// MessageBurst is how many messages a connection may send at once
	// under MessageRate. Defaults to MessageRate rounded up (at least 1).
	MessageBurst int

	// ByteRate limits how many bytes per second one connection may send,
	// counted on the wire (frame headers, control frames and compressed
	// payloads included), as a token bucket holding ByteBurst bytes; a
	// connection that sends faster is closed with 1008 Policy Violation
	// (CauseRateLimit). Defaults to 0: no limit.
	ByteRate int64

	// ByteBurst is how many bytes a connection may send at once under
	// ByteRate. A message larger than ByteBurst always exceeds it.
	// Defaults to ByteRate (one second of traffic).
	ByteBurst int64

	// MaxConns limits the WebSocket connections the server holds at once
	// (counted from the handshake check to the end of the connection); a
	// handshake over it gets 503 Service Unavailable with Retry-After,
	// before OnHandshake runs. Defaults to 0: no limit but the process's
	// file limit (RLIMIT_NOFILE).
	MaxConns int

	// MaxConnsPerIP limits the WebSocket connections of one client address
	// (an IPv4 address, or the /64 of an IPv6 address, taken from
	// Request.RemoteAddr: behind a proxy, set RemoteAddr from a trusted
	// header first); over it, 503 with Retry-After. Defaults to 0: no
	// limit (clients behind one NAT share an address).
	MaxConnsPerIP int

	// ReadTimeout closes a connection that has received nothing (no data,
	// no ping or pong) for this long, with 1001 Going Away. Negative
	// disables it. Defaults to 1800 s.
	ReadTimeout time.Duration

	// HandshakeTimeout bounds the reading of the handshake request (the
	// slowloris defence) when the server runs through Serve or
	// ListenAndServe. Defaults to 10 s.
	HandshakeTimeout time.Duration

	// WriteTimeout closes a connection whose client has taken no bytes for
	// this long while a write was pending. Negative disables it.
	// Defaults to 10 s.
	WriteTimeout time.Duration

	// ShutdownTimeout bounds the graceful shutdown that ListenAndServe and
	// Serve run when their context ends. Defaults to 10 s.
	ShutdownTimeout time.Duration

	// AllowedOrigins lists the host patterns (path.Match syntax, e.g.
	// "*.example.com"; with "://" the pattern is matched against
	// "scheme://host") of the cross-origin pages allowed to connect. A
	// request whose Origin is the request's own host, or that has no Origin
	// (not a browser), is always allowed; any other gets 403 Forbidden.
	// "*" allows every origin. Defaults to same-origin only.
	AllowedOrigins []string

	// Subprotocols lists the subprotocols the server negotiates, in order
	// of preference. Defaults to none.
	Subprotocols []string

	// PingInterval, when positive, pings every connection that has been
	// quiet for this long and closes it (1001, CausePingTimeout) when no
	// pong comes within PongTimeout. Defaults to 0: no keep-alive pings.
	PingInterval time.Duration

	// PongTimeout is how long a keep-alive ping waits for its pong.
	// Defaults to PingInterval.
	PongTimeout time.Duration

	// Compression enables permessage-deflate (without context takeover)
	// with clients that offer it. Defaults to false.
	Compression bool

	// ReadBufferSize is the size of each connection's read buffer: frame
	// headers and small messages are read through it, larger payloads
	// straight into the message. Every connection holds it, idle or not.
	// Defaults to 1024.
	ReadBufferSize int

	// WriteBufferSize is the size of each connection's write buffer. A
	// message larger than the buffer still leaves in one writev: the wire
	// layer sends a frame's pieces together. Every connection holds it.
	// Defaults to 512.
	WriteBufferSize int

	// Strict makes Register fail on a route conflict. By default, as in
	// NoWebsocket, the later blueprint is skipped whole with a warning.
	Strict bool

	// ParamTypes adds parameter types for route templates.
	ParamTypes []ParamType

	// Fallback serves the requests that match no route (a page, a health
	// check). Defaults to 404 Not Found.
	Fallback http.Handler

	// Logger receives the server's logs. Defaults to slog.Default().
	Logger *slog.Logger

	// Hub configures rooms and broadcast across nodes (see Hub). Defaults
	// to a hub of this server alone.
	Hub HubOptions

	// SendQueue bounds each connection's queue of broadcasts not yet
	// written, and says what a full one does (see QueueOptions). Routes
	// may override it with RouteSpec.WithQueue.
	SendQueue QueueOptions
}

// Defaults of Options, exported for documentation and flags.
const (
	DefaultAddr             = "0.0.0.0:8765"
	DefaultMaxHeaderBytes   = 4096
	DefaultMaxMessageBytes  = 2 << 20
	DefaultReadTimeout      = 1800 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultReadBufferSize   = 1024
	DefaultWriteBufferSize  = 512
)

func (o Options) withDefaults() Options {
	setDefault(&o.Addr, DefaultAddr)
	setDefault(&o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&o.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&o.ReadTimeout, DefaultReadTimeout)
	setDefault(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&o.WriteTimeout, DefaultWriteTimeout)
	setDefault(&o.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&o.ReadBufferSize, DefaultReadBufferSize)
	setDefault(&o.WriteBufferSize, DefaultWriteBufferSize)
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
