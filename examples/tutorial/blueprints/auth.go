package blueprints

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/nowebsocket/nows/framework"
)

// OnHandshake admits a connection, before the upgrade, only with one of
// Deps.Tokens: in the query, ?token=T (browsers cannot set headers on a
// WebSocket), or as "Authorization: Bearer T" (programs). Any other gets
// 401 and never reaches the other hooks.
func (h *ChatHandler) OnHandshake(r *http.Request) error {
	token := r.URL.Query().Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	user := h.deps.Tokens.lookup(token)
	if user == "" {
		return framework.Reject(http.StatusUnauthorized, "unknown token")
	}
	h.user = user
	return nil
}

// lookup returns the user of token, or "". It compares with every token
// in constant time, so that timing tells nothing about them.
func (ts Tokens) lookup(token string) string {
	user := ""
	for t, u := range ts {
		if token != "" && subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			user = u
		}
	}
	return user
}
