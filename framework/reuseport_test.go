package framework_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/framework"
)

// TestReusePortFlag: BindFlags binds Options.ReusePort as --reuse-port
// and NOWS_REUSE_PORT, the flag over the variable over the app's value.
func TestReusePortFlag(t *testing.T) {
	t.Setenv("NOWS_REUSE_PORT", "") // restored after the test
	os.Unsetenv("NOWS_REUSE_PORT")
	parse := func(t *testing.T, o framework.Options, args ...string) framework.Options {
		t.Helper()
		fs := flag.NewFlagSet("app", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		return o
	}
	if parse(t, framework.Options{}).ReusePort {
		t.Error("ReusePort is on by default")
	}
	if !parse(t, framework.Options{}, "--reuse-port").ReusePort {
		t.Error("--reuse-port: ReusePort is off")
	}
	if !parse(t, framework.Options{ReusePort: true}).ReusePort {
		t.Error("the app's ReusePort: true did not survive BindFlags")
	}
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	new(framework.Options).BindFlags(fs)
	if f := fs.Lookup("reuse-port"); f == nil || !strings.Contains(f.Usage, "(env NOWS_REUSE_PORT)") || f.DefValue != "false" {
		t.Errorf("--reuse-port: %+v, want a flag whose usage names NOWS_REUSE_PORT, default false", f)
	}

	t.Run("env", func(t *testing.T) {
		t.Setenv("NOWS_REUSE_PORT", "true")
		if !parse(t, framework.Options{}).ReusePort {
			t.Error("NOWS_REUSE_PORT=true: ReusePort is off")
		}
		if parse(t, framework.Options{}, "--reuse-port=false").ReusePort {
			t.Error("NOWS_REUSE_PORT=true --reuse-port=false: the flag did not win")
		}
	})

	t.Run("bad env", func(t *testing.T) {
		t.Setenv("NOWS_REUSE_PORT", "sometimes")
		o := parse(t, framework.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
		defer cancel() // bounded: a server that listened after all would serve until then
		err := framework.NewServer(o).ListenAndServe(ctx)
		if err == nil || !strings.Contains(err.Error(), `NOWS_REUSE_PORT="sometimes"`) || !strings.Contains(err.Error(), "--reuse-port") {
			t.Fatalf("ListenAndServe with NOWS_REUSE_PORT=sometimes: %v, want an error naming the variable, its value and the flag", err)
		}
	})
}
