package app

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/templates"
)

func TestInterspersed(t *testing.T) {
	t.Parallel()
	a := New(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Templates: templates.FS})
	tests := []struct{ in, want string }{
		{"nows", "nows"},
		{"nows blueprint add chat --prefix /chat", "nows blueprint add --prefix /chat chat"},
		{"nows --no-color blueprint add chat -p /chat --dry-run", "nows --no-color blueprint add -p /chat --dry-run chat"},
		{"nows blueprint add chat --prefix=/chat --force", "nows blueprint add --prefix=/chat --force chat"},
		{"nows handler add chat Room --route /room/{id}", "nows handler add --route /room/{id} chat Room"},
		{"nows new myapp --dev /src/nows --no-tidy", "nows new --dev /src/nows --no-tidy myapp"},
		{"nows run --watch -- --addr :9000 -v", "nows run --watch -- --addr :9000 -v"},
		{"nows run -- --watch", "nows run -- --watch"},
		{"nows routes --json --match /echo", "nows routes --json --match /echo"},
		{"nows blueprint add --generate-bash-completion", "nows blueprint add --generate-bash-completion"},
		{"nows unknown x --flag", "nows unknown x --flag"},
	}
	for _, tt := range tests {
		got := strings.Join(Interspersed(a, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("Interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestExitCodes runs the app; not in parallel, because urfave/cli's help
// and version flags are package variables that record parse state.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"nows", "version"}, 0, ""},
		{[]string{"nows", "new"}, 2, "missing DIR"},
		{[]string{"nows", "routes", "extra"}, 2, "too many arguments"},
		{[]string{"nows", "new", "--bogus", "x"}, 2, "flag provided but not defined"},
		{[]string{"nows", "completion", "tcsh"}, 2, "unknown shell"},
		{[]string{"nows", "new", "x", "--broker", "kafka"}, 2, `--broker "kafka": choose one of nats, redis`},
		{[]string{"nows", "run", "--addr", "127.0.0.1:9000"}, 2, "nows run has no flag --addr: the app's flags go after --, so type\n\n    nows run -- --addr 127.0.0.1:9000\n"},
		{[]string{"nows", "--no-color", "run", "--watch", "-addr=:9000", "--log-level", "debug", "--", "--origins", "a b"}, 2,
			"nows run has no flag -addr: the app's flags go after --, so type\n\n    nows run --watch -- -addr=:9000 --log-level debug --origins 'a b'\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			var out, errw bytes.Buffer
			a := New(Env{Stdout: &out, Stderr: &errw, Templates: templates.FS, Dir: t.TempDir()})
			err := Run(context.Background(), a, slices.Clone(tt.args))
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit code: got %d (%v), want %d", got, err, tt.code)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error: got %v, want %q", err, tt.err)
			}
		})
	}
}
