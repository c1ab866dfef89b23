package generate

import (
	"bytes"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/scaffold"
	"github.com/nowebsocket/nows/cli/internal/ui"
	"github.com/nowebsocket/nows/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkGolden compares files with testdata/golden/dir, both ways: every
// file must have a golden file (NAME.golden) and every golden file a file.
func checkGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	root := filepath.Join("testdata", "golden", dir)
	if *update {
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			p := filepath.Join(root, filepath.FromSlash(name)+".golden")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	golden := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		golden[strings.TrimSuffix(filepath.ToSlash(rel), ".golden")] = b
		return err
	})
	if err != nil {
		t.Fatalf("%v (run go test -update to create the golden files)", err)
	}
	for _, name := range sortedKeys(files) {
		want, ok := golden[name]
		if !ok {
			t.Errorf("unexpected file %s (no %s.golden; run go test -update)", name, filepath.Join(root, name))
			continue
		}
		if !bytes.Equal(files[name], want) {
			t.Errorf("%s differs from its golden file (run go test -update):\n%s", name,
				scaffold.Diff(name, want, files[name], false))
		}
	}
	for _, name := range sortedKeys(golden) {
		if _, ok := files[name]; !ok {
			t.Errorf("missing file %s (its golden file exists)", name)
		}
	}
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestGoldenProject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data ProjectData
	}{
		{"project", ProjectData{
			Name: "myapp", Module: "example.com/myapp", GoVersion: "1.26", NowsVersion: project.ZeroVersion,
			WebsocketVersion: "v1.8.15", Replace: "/src/nows",
		}},
		{"project-published", ProjectData{
			Name: "app", Module: "app", GoVersion: "1.26", NowsVersion: "v1.0.0", WebsocketVersion: "v1.8.15",
		}},
		{"project-nats", ProjectData{
			Name: "myapp", Module: "example.com/myapp", GoVersion: "1.26", NowsVersion: project.ZeroVersion,
			WebsocketVersion: "v1.8.15", Replace: "/src/nows", Broker: mustBroker(t, "nats"),
		}},
		{"project-redis", ProjectData{
			Name: "myapp", Module: "example.com/myapp", GoVersion: "1.26", NowsVersion: project.ZeroVersion,
			WebsocketVersion: "v1.8.15", Replace: "/src/nows", Broker: mustBroker(t, "redis"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := ProjectFiles(templates.FS, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string][]byte{}
			for _, f := range files {
				m[f.Path] = f.Data
			}
			checkGolden(t, tt.name, m)
		})
	}
}

func mustBroker(t *testing.T, name string) *Broker {
	t.Helper()
	b, err := LookupBroker(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLookupBroker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want, err string
	}{
		{"", "", ""},
		{"nats", "natsbroker", ""},
		{"redis", "redisbroker", ""},
		{"NATS", "", `--broker "NATS": choose one of nats, redis`},
		{"kafka", "", `--broker "kafka": choose one of nats, redis (or leave --broker out for the in-process hub alone)`},
	}
	for _, tt := range tests {
		b, err := LookupBroker(tt.name)
		got := ""
		if b != nil {
			got = b.Package
		}
		if got != tt.want {
			t.Errorf("LookupBroker(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("LookupBroker(%q): got error %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestTidyProblems(t *testing.T) {
	t.Parallel()
	out := `go: downloading github.com/bsm/ginkgo/v2 v2.12.0
go: app imports
	github.com/nowebsocket/nows/framework/broker/redisbroker imports
	github.com/redis/go-redis/v9 tested by
	github.com/redis/go-redis/v9.test imports
	github.com/bsm/ginkgo/v2: module lookup disabled by GOPROXY=off
go: app imports
	github.com/nowebsocket/nows/framework/broker/redisbroker imports
	github.com/redis/go-redis/v9 tested by
	github.com/redis/go-redis/v9.test imports
	github.com/bsm/ginkgo/v2: module lookup disabled by GOPROXY=off
go: github.com/zeebo/xxh3@v1.1.0: verifying module: checksum mismatch`
	got := strings.Join(tidyProblems(out), "\n")
	want := "github.com/bsm/ginkgo/v2: module lookup disabled by GOPROXY=off\n" +
		"github.com/zeebo/xxh3@v1.1.0: verifying module: checksum mismatch"
	if got != want {
		t.Errorf("tidyProblems:\ngot  %q\nwant %q", got, want)
	}
}

// newTestProject writes a project skeleton with the blueprint files given,
// and deps.go as nows new writes it unless files has one.
func newTestProject(t *testing.T, files map[string]string) *project.Project {
	t.Helper()
	root := t.TempDir()
	bp := filepath.Join(root, "blueprints")
	if err := os.MkdirAll(bp, 0o755); err != nil {
		t.Fatal(err)
	}
	files["../go.mod"] = "module example.com/myapp\n\ngo 1.26\n"
	files["doc.go"] = "// Package blueprints holds routes.\npackage blueprints\n"
	if _, ok := files["deps.go"]; !ok {
		deps, err := scaffold.RenderFile(templates.FS, "project/blueprints/deps.go.tmpl", ProjectData{Name: "myapp"}, false)
		if err != nil {
			t.Fatal(err)
		}
		files["deps.go"] = string(deps)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(bp, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := project.Find(root)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readBlueprints(t *testing.T, p *project.Project) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	entries, err := os.ReadDir(p.Blueprints)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "doc.go" || e.Name() == "deps.go" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Blueprints, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func quietUI() *ui.UI { return ui.New(io.Discard, io.Discard, true) }

func TestGoldenBlueprintAndHandler(t *testing.T) {
	t.Parallel()
	p := newTestProject(t, map[string]string{})
	u := quietUI()
	if err := AddBlueprint(u, templates.FS, p, BlueprintOptions{Name: "chat", Prefix: "/chat"}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "blueprint", readBlueprints(t, p))
	err := AddHandler(u, templates.FS, p, HandlerOptions{Blueprint: "chat", Name: "Room", Route: "/room/{room_id:str}"})
	if err != nil {
		t.Fatal(err)
	}
	err = AddHandler(u, templates.FS, p, HandlerOptions{Blueprint: "chat", Name: "Lobby"})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "handler", readBlueprints(t, p))
}

// A hand-written blueprint: another import name, routes on one line, a
// comment inside the call, no log/slog import and no test file.
const handWritten = `package blueprints

import (
	"context"

	nf "github.com/nowebsocket/nows/framework"
)

const base = "/api"

// API is written by hand.
var API = nf.NewBlueprint(base+"/v1", nf.Route[Status]("/status") /* keep me */)

// Status answers "ok".
type Status struct{}

// OnMessage answers "ok".
func (*Status) OnMessage(ctx context.Context, c *nf.Conn, _ string) error { return c.SendText(ctx, "ok") }
`

func TestGoldenHandlerHandWritten(t *testing.T) {
	t.Parallel()
	p := newTestProject(t, map[string]string{"ApiBp.go": handWritten})
	err := AddHandler(quietUI(), templates.FS, p, HandlerOptions{Blueprint: "Api", Name: "Item", Route: "/items/{id:int}"})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "handwritten", readBlueprints(t, p))
}

// A constructor written by hand, with a Deps that has neither Logger nor
// Greeting and a parameter named deps: the new handler gets the Deps
// through RouteFunc and logs with slog.
const handWrittenConstructor = `package blueprints

import (
	"context"

	"github.com/nowebsocket/nows/framework"
)

// Rooms is written by hand.
func Rooms(deps *Deps) *framework.Blueprint {
	bp := framework.NewBlueprint("/rooms",
		framework.Route[Lobby](""),
	)
	return bp
}

// Lobby has no hooks but one.
type Lobby struct{}

// OnMessage drops text.
func (*Lobby) OnMessage(ctx context.Context, c *framework.Conn, _ string) error { return nil }
`

func TestGoldenHandlerConstructor(t *testing.T) {
	t.Parallel()
	p := newTestProject(t, map[string]string{
		"rooms_bp.go": handWrittenConstructor,
		"deps.go":     "package blueprints\n\n// Deps is empty.\ntype Deps struct{}\n",
	})
	err := AddHandler(quietUI(), templates.FS, p, HandlerOptions{Blueprint: "rooms", Name: "Room", Route: "/{id:int}"})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "constructor", readBlueprints(t, p))
}

// TestGoldenHandlerEvents: nows handler add --events in a constructor (with
// the Deps of nows new) and in a hand-written blueprint variable that
// imports the framework and framework/events under other names; nows
// blueprint add --events.
func TestGoldenHandlerEvents(t *testing.T) {
	t.Parallel()
	p := newTestProject(t, map[string]string{"ApiBp.go": handWrittenEvents})
	u := quietUI()
	if err := AddBlueprint(u, templates.FS, p, BlueprintOptions{Name: "chat", Prefix: "/chat"}); err != nil {
		t.Fatal(err)
	}
	err := AddHandler(u, templates.FS, p, HandlerOptions{Blueprint: "chat", Name: "Room", Route: "/room/{room_id:str}", Events: true})
	if err != nil {
		t.Fatal(err)
	}
	err = AddHandler(u, templates.FS, p, HandlerOptions{Blueprint: "Api", Name: "Item", Route: "/items/{id:int}", Events: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := AddBlueprint(u, templates.FS, p, BlueprintOptions{Name: "talk", Events: true}); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "events", readBlueprints(t, p))
}

// A hand-written blueprint variable with typed events already, its
// packages under other names.
const handWrittenEvents = `package blueprints

import (
	"context"

	nf "github.com/nowebsocket/nows/framework"
	ev "github.com/nowebsocket/nows/framework/events"
)

// API is written by hand.
var API = nf.NewBlueprint("/api", ev.Route[Status]("/status", ev.Handle("status", (*Status).Get)))

// Status answers "ok".
type Status struct{}

// Get answers "ok".
func (*Status) Get(ctx context.Context, c *nf.Conn, _ struct{}) (string, error) { return "ok", nil }
`
