package framework

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// Server serves the routes of registered blueprints over WebSocket. It is an
// http.Handler, so it mounts in any mux, and it runs itself with Serve and
// ListenAndServe. Register every blueprint before serving.
type Server struct {
	opts   Options
	log    *slog.Logger
	router *router
	accept websocket.AcceptOptions

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	closing  bool
	active   sync.WaitGroup
	draining atomic.Bool
	httpSrvs []*http.Server
	fresh    freshConns // sockets that have sent no request yet (fresh.go)

	hubOnce sync.Once
	hub     *Hub // rooms and broadcast, made on first use (hub.go)

	limits *connLimiter // MaxConns and MaxConnsPerIP (connlimit.go)

	bye atomic.Pointer[CloseStatus] // the close Serve sends when its ctx ends; nil: 1001
}

// NewServer returns a server with opts, zero fields defaulted, and no
// routes.
func NewServer(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:   opts,
		log:    opts.Logger,
		conns:  make(map[*Conn]struct{}),
		limits: newConnLimiter(opts.MaxConns, opts.MaxConnsPerIP),
	}
	s.accept = websocket.AcceptOptions{
		Subprotocols:       opts.Subprotocols,
		InsecureSkipVerify: true, // the origin is checked before OnHandshake
	}
	if opts.Compression {
		s.accept.CompressionMode = websocket.CompressionNoContextTakeover
	}
	s.router = newRouter(opts.ParamTypes, &s.accept)
	return s
}

// Register adds the routes of each blueprint, before serving. A bad
// template, a method named like a hook with another signature or no
// message hook (ErrBadHandler), and two routes that match the same paths
// (ErrRouteConflict, naming both) or one under /_nows/ are errors; such a
// blueprint adds no route.
func (s *Server) Register(bps ...*Blueprint) error {
	var errs []error
	for _, bp := range bps {
		if bp == nil {
			errs = append(errs, errors.New("framework: Register: nil blueprint"))
			continue
		}
		if err := s.router.register(bp); err != nil {
			errs = append(errs, fmt.Errorf("blueprint %q (%s): %w", bp.prefix, bp.source, err))
		}
	}
	return errors.Join(errs...)
}

// Routes lists the registered routes from the most to the least specific.
func (s *Server) Routes() []RouteInfo { return s.router.infos() }

// ServeHTTP upgrades requests for a registered route, after the checks of
// RFC 6455 and the server's limits, and serves the connection until it
// ends. It serves /_nows/nows.js and nows.d.ts (see Options.NoClientJS);
// other requests go to Options.Fallback.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Observer == nil {
		s.serveHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	// An upgrade is observed as it happens (before the connection's events).
	if route, handshake := s.serveHTTP(sw, r); handshake && sw.status != http.StatusSwitchingProtocols {
		s.opts.Observer.Observe(Event{Kind: EventHandshake, Route: route, Status: sw.status})
	}
}

// serveHTTP is ServeHTTP; it returns the route matched and whether the
// request was a handshake (one for a route, or an upgrade request).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) (route string, handshake bool) {
	if !s.opts.NoClientJS && strings.HasPrefix(r.URL.Path, reservedPrefix) {
		serveClientJS(w, r) // clientjs.go
		return "", false
	}
	rt, params, ok := s.route(r)
	if !ok {
		if s.opts.Fallback != nil {
			s.opts.Fallback.ServeHTTP(w, r)
			return "", false
		}
		http.NotFound(w, r)
		return "", hasToken(r.Header, "Upgrade", "websocket")
	}
	route, handshake = rt.full, true
	if !s.checkHandshake(w, r) {
		return route, handshake
	}
	release, ok := s.limitConn(w, r) // connlimit.go
	if !ok {
		return route, handshake
	}
	running := false // once the connection's goroutine runs, it releases
	defer func() {
		if !running {
			release()
		}
	}()
	handler := rt.spec.newHandler()
	if handler == nil { // a RouteFunc constructor returned nil
		s.log.Error("nows: handler constructor returned nil", "route", rt.full)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return route, handshake
	}
	h := hooksOf(handler)
	if h.handshake != nil && !s.runHandshakeHook(w, r, rt, h.handshake) {
		return route, handshake
	}
	growHandshakeStack(0) // conn.go
	hj := &hijacker{ResponseWriter: w, srv: s}
	ws, err := websocket.Accept(hj, r, rt.accept)
	if err != nil {
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("nows: handshake failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		}
		return route, handshake
	}
	ws.SetReadLimit(s.opts.MaxMessageBytes)
	// coder has put its reader over an io.MultiReader of what net/http
	// had buffered and the socket; the wire layer holds those bytes itself
	// (pending), so the reader goes back to the wire layer alone: two
	// objects, about 100 bytes, fewer per connection held.
	hj.rw.Reader.Reset(hj.conn)
	// coder writes the data frames of a connection that compresses (frames.go).
	hj.conn.flate = s.opts.Compression && strings.Contains(w.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := &Conn{srv: s, route: rt, ws: ws, wire: hj.conn, params: params, hooks: h, release: release}
	// No parent to register with: Shutdown cancels each connection itself,
	// and a shared parent would be a lock and a map entry per handshake.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.req.keep(r)
	if o := s.opts.Observer; o != nil {
		o.Observe(Event{Kind: EventHandshake, Route: rt.full, Status: http.StatusSwitchingProtocols})
		o.Observe(Event{Kind: EventOpen, Route: rt.full})
	}
	if !s.track(c) {
		c.closeWith(CloseStatus{Code: websocket.StatusGoingAway, Reason: "server shutting down", Cause: CauseShutdown})
		c.finish(c.closing.Load())
		return route, handshake
	}
	if s.log.Enabled(c.ctx, slog.LevelDebug) {
		s.log.Debug("nows: connection opened", "route", rt.full, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
	running = true
	c.start() // conn.go
	return route, handshake
}

// statusWriter records the status of a response, for Observer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status and writes it.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write writes body bytes, with an implied 200 when no status came first.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route matches the request's path. The parameters go to the heap, and only
// when there are some: a Params value is a few hundred bytes that the Conn
// of a route without parameters need not carry.
func (s *Server) route(r *http.Request) (*boundRoute, *Params, bool) {
	rt, ps, ok := s.router.mux.Match(r.URL.EscapedPath())
	if !ok || ps.Len() == 0 {
		return rt, nil, ok
	}
	return rt, &Params{v: ps}, true
}

// checkHandshake answers requests that cannot be upgraded (431 for large
// headers, 503 while shutting down, 426 for no upgrade or another version,
// 405 for a method other than GET, 400 for HTTP/1.0 or a bad key, 403 for
// a foreign origin: the table "What bad input gets" in docs/limits.md),
// and reports whether the request may go on.
func (s *Server) checkHandshake(w http.ResponseWriter, r *http.Request) bool {
	fail := func(status int, msg string) bool {
		http.Error(w, msg, status)
		return false
	}
	if headerBytes(r) > s.opts.MaxHeaderBytes {
		w.Header().Set("Connection", "close")
		return fail(http.StatusRequestHeaderFieldsTooLarge, "request headers too large")
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "5")
		return fail(http.StatusServiceUnavailable, "server shutting down")
	}
	if !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		return fail(http.StatusUpgradeRequired, "this is a WebSocket endpoint: connect with a WebSocket client")
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return fail(http.StatusMethodNotAllowed, "WebSocket handshakes use GET")
	}
	if !r.ProtoAtLeast(1, 1) {
		return fail(http.StatusBadRequest, "WebSocket handshakes need HTTP/1.1")
	}
	// The keys are written in canonical form (http.CanonicalHeaderKey) so
	// that the lookups below do not canonicalise, and allocate, per request.
	if v := r.Header["Sec-Websocket-Version"]; len(v) == 0 || v[0] != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version: only 13 is supported")
	}
	if keys := r.Header["Sec-Websocket-Key"]; len(keys) != 1 || !validKey(keys[0]) {
		return fail(http.StatusBadRequest, "missing or invalid Sec-WebSocket-Key")
	}
	if !s.originAllowed(r) {
		return fail(http.StatusForbidden, "cross-origin WebSocket request not allowed")
	}
	return true
}

// runHandshakeHook runs OnHandshake and answers a rejection.
func (s *Server) runHandshakeHook(w http.ResponseWriter, r *http.Request, rt *boundRoute, hook HandshakeHandler) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("nows: panic in OnHandshake", "route", rt.full, "panic", v, panicStack())
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			ok = false
		}
	}()
	err := hook.OnHandshake(r)
	if err == nil {
		return true
	}
	var he *httpError
	if errors.As(err, &he) && he.status >= 400 && he.status < 600 {
		http.Error(w, he.text(), he.status)
	} else {
		s.log.Info("nows: handshake rejected", "route", rt.full, "remote", r.RemoteAddr, "err", err)
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	}
	return false
}

// headerBytes returns the size of the request line and headers as sent
// (with "Name: value" spacing). net/http lets up to 4 KiB more than its
// MaxHeaderBytes through; this enforces the exact limit.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// hasToken reports whether a comma-separated header has token, without
// allocating.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// validKey reports whether k is 16 bytes in base64, without allocating.
func validKey(k string) bool {
	k = strings.TrimSpace(k)
	var b [18]byte
	if base64.StdEncoding.DecodedLen(len(k)) > len(b) {
		return false
	}
	n, err := base64.StdEncoding.Decode(b[:], []byte(k))
	return err == nil && n == 16
}

// originAllowed implements the same-origin default and AllowedOrigins.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pattern := range s.opts.AllowedOrigins {
		target := u.Host
		if strings.Contains(pattern, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if pattern == "*" {
			return true
		}
		if ok, err := path.Match(strings.ToLower(pattern), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return true
}

// newWireConn returns the wire layer over a hijacked connection, with the
// server's limits (pending: the bytes net/http had buffered).
func (s *Server) newWireConn(nc net.Conn, pending []byte) *wireConn {
	wc := newWireConn(nc, pending, s.opts.MaxMessageBytes, s.opts.ReadTimeout, s.opts.WriteTimeout)
	wc.rate = s.newRateLimiter() // ratelimit.go
	return wc
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Done()
}

// Serve accepts connections on ln until ctx ends, then shuts down
// gracefully (within Options.ShutdownTimeout) and returns nil. It returns
// ErrServerClosed after Shutdown, and other errors from the listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.opts.flags.check(); err != nil {
		_ = ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
		ConnState:         s.fresh.track,
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.httpSrvs = append(s.httpSrvs, hs)
	s.mu.Unlock()
	s.log.Info("nows: listening", "addr", "ws://"+ln.Addr().String(), "routes", len(s.router.routes))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return ErrServerClosed
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	bye := CloseStatus{Code: websocket.StatusGoingAway, Reason: "server shutting down"}
	if b := s.bye.Load(); b != nil {
		bye = *b
	}
	err := s.shutdown(sctx, bye.Code, bye.Reason)
	<-errc
	return err
}

// ListenAndServe listens on Options.Addr and serves as Serve does.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.opts.flags.check(); err != nil {
		return err
	}
	var lc net.ListenConfig
	if s.opts.ReusePort {
		if reusePort == nil { // reuseport_other.go
			return fmt.Errorf("framework: listen on %s: Options.ReusePort (--reuse-port or NOWS_REUSE_PORT with BindFlags) needs SO_REUSEPORT as Linux has it, and this is %s: unset it, and give each process its own address with Options.Addr", s.opts.Addr, runtime.GOOS)
		}
		lc.Control = reusePort
	}
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return listenError(s.opts.Addr, s.opts.ReusePort, err)
	}
	return s.Serve(ctx, ln)
}

// Shutdown stops accepting, closes every connection with 1001, and returns
// when every OnClose has run; when ctx ends first, the rest are cut (their
// OnClose still runs) and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.shutdown(ctx, websocket.StatusGoingAway, "server shutting down")
}

// stuckHookGrace is how long Shutdown waits, once its context has ended and
// every connection has been cut, for hooks to return before it gives up on
// those that ignore their context.
const stuckHookGrace = time.Second

// shutdown is Shutdown with a chosen close code and reason, for example
// 1012 Service Restart when the process is about to be replaced.
func (s *Server) shutdown(ctx context.Context, code websocket.StatusCode, reason string) error {
	s.draining.Store(true)
	s.mu.Lock()
	s.closing = true
	servers := s.httpSrvs
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var closers sync.WaitGroup
	for _, hs := range servers {
		closers.Go(func() { _ = hs.Shutdown(ctx) })
	}
	s.fresh.closeAll()
	for _, c := range conns {
		closers.Go(func() {
			c.closeWith(CloseStatus{Code: code, Reason: reason, Cause: CauseShutdown})
		})
	}
	done := make(chan struct{})
	go func() {
		closers.Wait()
		s.active.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range conns {
			c.abort(CloseStatus{Code: websocket.StatusAbnormalClosure, Reason: reason, Cause: CauseShutdown})
		}
		for _, hs := range servers {
			_ = hs.Close()
		}
		select {
		case <-done:
		case <-time.After(stuckHookGrace):
			s.log.Error("nows: shutdown: connections stuck in a hook that ignores its context; their OnClose runs when the hook returns",
				"conns", s.connCount())
		}
	}
	s.closeHub()
	return err
}

// slogWriter sends net/http's error log to slog at debug level (it reports
// client mistakes such as TLS probes and oversized headers).
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("nows: http: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

// listenError explains the commonest listen failure, a port in use, and
// what changes the address or lets processes share it.
func listenError(addr string, reuse bool, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) && reuse {
		return fmt.Errorf("framework: listen on %s: the address is in use by a process that does not share it: give every process on it Options.ReusePort (the --reuse-port flag or NOWS_REUSE_PORT with BindFlags) and run them as one user, or choose another address with Options.Addr (--addr or NOWS_ADDR): %w", addr, err)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("framework: listen on %s: the address is in use by another process: stop it, or choose another address with Options.Addr (the --addr flag or NOWS_ADDR with BindFlags): %w", addr, err)
	}
	return fmt.Errorf("framework: listen on %s: %w", addr, err)
}
