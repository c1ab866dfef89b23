// Package blueprints holds the auth example's blueprint: a token checked in
// the handshake, before the connection is upgraded, and per-user state kept
// on the handler.
package blueprints

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/nowebsocket/nows/framework"
)

// DemoTokens are the tokens accepted when Deps.Tokens is nil (no --tokens,
// no NOWS_TOKENS): each maps a token to its user.
func DemoTokens() map[string]string {
	return map[string]string{"alice-token": "alice", "bob-token": "bob"}
}

// Auth returns the blueprint that serves /auth to clients presenting one of
// d.Tokens, either as "Authorization: Bearer <token>" (programs) or as
// ?token=<token> (browsers, which cannot set headers on a WebSocket).
// RouteFunc hands the tokens to each connection's Session.
func Auth(d *Deps) *framework.Blueprint {
	tokens := d.Tokens
	if tokens == nil {
		d.Logger.Warn("auth: accepting the demo tokens alice-token and bob-token: set --tokens or NOWS_TOKENS for real use")
		tokens = DemoTokens()
	}
	return framework.NewBlueprint("/auth",
		framework.RouteFunc("", func() *Session { return &Session{tokens: tokens} }),
	)
}

// Session is one authenticated connection. OnHandshake fills user; the
// other hooks run later on the same value, one at a time, so the fields
// need no lock.
type Session struct {
	tokens   map[string]string
	user     string
	messages int
}

// OnHandshake rejects the connection with 401 Unauthorized, before the
// upgrade, unless it carries a known token.
func (h *Session) OnHandshake(r *http.Request) error {
	token := bearerToken(r)
	if token == "" {
		return framework.Reject(http.StatusUnauthorized, "missing token")
	}
	user, ok := lookup(h.tokens, token)
	if !ok {
		return framework.Reject(http.StatusUnauthorized, "invalid token")
	}
	h.user = user
	return nil
}

// OnOpen greets the user.
func (h *Session) OnOpen(ctx context.Context, c *framework.Conn) error {
	return c.SendText(ctx, "hello "+h.user)
}

// OnMessage answers "whoami" with the user, and numbers every other message.
func (h *Session) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	if text == "whoami" {
		return c.SendText(ctx, h.user)
	}
	h.messages++
	return c.SendText(ctx, fmt.Sprintf("%s #%d: %s", h.user, h.messages, text))
}

// bearerToken returns the request's token: from the Authorization header,
// else from the query.
func bearerToken(r *http.Request) string {
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(auth)
	}
	return r.URL.Query().Get("token")
}

// lookup finds the token's user, comparing in constant time.
func lookup(tokens map[string]string, token string) (string, bool) {
	user, found := "", false
	for t, u := range tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			user, found = u, true
		}
	}
	return user, found
}

// ParseTokens reads "token=user,token=user" (the --tokens flag).
func ParseTokens(s string) (map[string]string, error) {
	tokens := make(map[string]string)
	for pair := range strings.SplitSeq(s, ",") {
		token, user, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || token == "" || user == "" {
			return nil, fmt.Errorf("bad token %q: want token=user", pair)
		}
		tokens[token] = user
	}
	return tokens, nil
}
