package generate

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
)

// TestReadmeFlags checks that every flag the generated README lists is
// one the generated app has: framework.Options.BindFlags's, admin's
// (--admin-addr), and those main.go and blueprints/deps.go add.
func TestReadmeFlags(t *testing.T) {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	var opts framework.Options
	opts.BindFlags(fs)
	admin.New(&opts).BindFlags(fs)
	own := map[string]bool{"log-level": true, "broker": true, "greeting": true} // main.go.tmpl, broker.go.tmpl, deps.go.tmpl
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)`")
	for _, golden := range []string{"project", "project-nats"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", golden, "README.md.golden"))
		if err != nil {
			t.Fatal(err)
		}
		rows := row.FindAllStringSubmatch(string(b), -1)
		if len(rows) < 5 {
			t.Fatalf("%s: %d flag rows, want the README's flag table", golden, len(rows))
		}
		for _, m := range rows {
			if fs.Lookup(m[1]) == nil && !own[m[1]] {
				t.Errorf("%s README lists --%s, which the app does not have: fix templates/project/README.md.tmpl", golden, m[1])
			}
		}
	}
}
