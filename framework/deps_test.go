package framework_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: an app that imports framework alone builds with
// coder/websocket and the standard library only (framework/history, for
// HubOptions.History, uses the standard library alone). Prometheus comes with
// framework/metrics and framework/admin, never through framework.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "github.com/coder/websocket" || strings.HasPrefix(pkg, "github.com/coder/websocket/"):
		case pkg == "github.com/nowebsocket/nows/framework" || strings.HasPrefix(pkg, "github.com/nowebsocket/nows/internal/"):
		case pkg == "github.com/nowebsocket/nows/framework/history": // the standard library only (HubOptions.History)
		default:
			t.Errorf("framework depends on %s: only coder/websocket and the standard library are allowed", pkg)
		}
	}
}
