package blueprints

import (
	"cmp"
	"flag"
	"log/slog"
	"os"
)

// Deps is what the auth app's handlers share: main fills it from its flags
// and passes it to All; tests fill it by hand.
type Deps struct {
	// Logger receives the handlers' logs; it must not be nil.
	Logger *slog.Logger
	// Tokens maps each accepted token to its user. nil means DemoTokens,
	// with a warning; empty accepts no one. It must not change while
	// serving.
	Tokens map[string]string
}

// BindFlags binds the settings of d to flags of fs: --tokens, which also
// reads NOWS_TOKENS (better than a flag for secrets: other users see
// command lines in ps). A NOWS_TOKENS that does not parse is logged and
// accepts no one, rather than the demo tokens.
func (d *Deps) BindFlags(fs *flag.FlagSet) {
	if s, ok := os.LookupEnv("NOWS_TOKENS"); ok {
		tokens, err := ParseTokens(s)
		if err != nil {
			tokens = map[string]string{}
			cmp.Or(d.Logger, slog.Default()).Error("auth: NOWS_TOKENS: " + err.Error() + ": accepting no token")
		}
		d.Tokens = tokens
	}
	fs.Func("tokens", `accepted tokens, "token=user,token=user" (env NOWS_TOKENS; default: the demo tokens alice-token and bob-token)`,
		func(s string) (err error) {
			d.Tokens, err = ParseTokens(s)
			return err
		})
}
