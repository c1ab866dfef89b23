// Package apptest runs an example app's real binary in its tests.
package apptest

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Routes builds the main package in the current directory, runs it with
// --routes and the given flags, and returns its route table as
// "template handler" lines: the flags parse, the blueprints register, and
// nothing listens.
func Routes(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "app")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--routes"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --routes %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderrOf(err))
	}
	var lines strings.Builder
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var route struct{ Template, Handler string }
		if err := dec.Decode(&route); err != nil {
			t.Fatalf("route table %q: %v", out, err)
		}
		lines.WriteString(route.Template + " " + route.Handler + "\n")
	}
	return lines.String()
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
