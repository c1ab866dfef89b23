package blueprints

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
)

// Deps holds what the handlers of every blueprint share: the logger, the
// app's settings, and whatever else they need (a database, a client, a
// cache). main.go fills it from its flags (BindFlags) and passes it to All,
// in registry_gen.go, which gives it to every blueprint constructor,
//
//	func Chat(d *Deps) *framework.Blueprint
//
// in the *_bp.go files; their routes hand it to each handler they make
// (framework.RouteFunc), where it is h.deps.
//
// This file is yours: nows writes it once, with nows new, and never again.
// Add a field here, bind it to a flag in BindFlags or set it in main.go,
// and use it in the handlers.
type Deps struct {
	// Logger is the app's logger (--log-level); main.go sets it.
	Logger *slog.Logger
	// Tokens maps each token a client may present to the user it stands
	// for (--tokens); a connection without one of them is refused.
	Tokens Tokens
}

// BindFlags binds the settings of d to flags of fs, with their defaults and
// help text; main.go calls it before parsing its flags.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	if d.Tokens == nil {
		d.Tokens = Tokens{}
	}
	fs.Var(d.Tokens, "tokens", "the `token=user` pairs that may connect, comma-separated (alice-secret=alice,bob-secret=bob)")
}

// Tokens maps tokens to users; as a flag.Value it parses
// "token=user,token=user".
type Tokens map[string]string

// Set adds the pairs of s.
func (ts Tokens) Set(s string) error {
	for pair := range strings.SplitSeq(s, ",") {
		token, user, ok := strings.Cut(pair, "=")
		if !ok || token == "" || user == "" {
			return fmt.Errorf("%q: want token=user", pair)
		}
		ts[token] = user
	}
	return nil
}

// String lists the users, never the tokens: -help and errors may print it.
func (ts Tokens) String() string {
	var users []string
	for _, user := range ts {
		users = append(users, user)
	}
	return strings.Join(users, ",")
}
