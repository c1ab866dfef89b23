package apisnap

import (
	"bytes"
	"flag"
	"fmt"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite api/nows.txt from the exported API")

const (
	moduleRoot = "../.."
	modulePath = "github.com/nowebsocket/nows"
	snapshot   = moduleRoot + "/api/nows.txt"

	// The budget of package framework and the packages under it other
	// than wstest, the broker adapters and brokertest, and the history
	// engines (framework/history/*: adapters to Redis and JetStream, like
	// the broker's). maxConstsVars was
	// 30 until the eight EventKind constants of the Observer came.
	maxFuncsMethodsTypes = 100
	maxConstsVars        = 40
)

// modulePackages loads the public packages of the module once for the
// tests that need them.
var modulePackages = sync.OnceValues(func() ([]*types.Package, error) {
	return Module(moduleRoot)
})

func TestAPISnapshot(t *testing.T) {
	pkgs, err := modulePackages()
	if err != nil {
		t.Fatal(err)
	}
	got := Features(pkgs...)
	if *update {
		if err := os.MkdirAll(filepath.Dir(snapshot), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(snapshot, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d lines to api/nows.txt", len(got))
		return
	}
	data, err := os.ReadFile(snapshot)
	if err != nil {
		t.Fatalf("%v\nrun `make api` to write it", err)
	}
	want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(want)
	if d := diffLines(want, got); d != "" {
		t.Errorf("api/nows.txt does not match the exported API (+ added, - removed):\n%s\n"+
			"the exported API changed: if deliberate, run `make api` and list the change in CHANGELOG.md", d)
	}
}

// diffLines returns the lines only in want, marked "-", and those only in
// got, marked "+", in order; "" if there are none. Both must be sorted.
func diffLines(want, got []string) string {
	var b strings.Builder
	for len(want) > 0 || len(got) > 0 {
		switch {
		case len(got) == 0 || len(want) > 0 && want[0] < got[0]:
			fmt.Fprintf(&b, "- %s\n", want[0])
			want = want[1:]
		case len(want) == 0 || got[0] < want[0]:
			fmt.Fprintf(&b, "+ %s\n", got[0])
			got = got[1:]
		default:
			want, got = want[1:], got[1:]
		}
	}
	return b.String()
}

func TestAPIBudget(t *testing.T) {
	pkgs, err := modulePackages()
	if err != nil {
		t.Fatal(err)
	}
	var budgeted []*types.Package
	for _, pkg := range pkgs {
		rel, ok := strings.CutPrefix(pkg.Path(), modulePath+"/")
		if ok && (rel == "framework" || strings.HasPrefix(rel, "framework/")) &&
			!(rel == "framework/wstest" || strings.HasPrefix(rel, "framework/wstest/") ||
				strings.HasPrefix(rel, "framework/broker/") || strings.HasPrefix(rel, "framework/history/") ||
				ownBudget[rel] != (Counts{})) {
			budgeted = append(budgeted, pkg)
			t.Logf("counted: %s", rel)
		}
	}
	if len(budgeted) == 0 {
		t.Fatal("no package framework")
	}
	c := Count(budgeted...)
	decls, values := c.Funcs+c.Methods+c.Types, c.Consts+c.Vars
	t.Logf("funcs+methods+types: %d+%d+%d = %d (budget %d)", c.Funcs, c.Methods, c.Types, decls, maxFuncsMethodsTypes)
	t.Logf("consts+vars: %d+%d = %d (budget %d)", c.Consts, c.Vars, values, maxConstsVars)
	if decls > maxFuncsMethodsTypes {
		t.Errorf("the framework API has %d funcs, methods and types; the budget is %d", decls, maxFuncsMethodsTypes)
	}
	if values > maxConstsVars {
		t.Errorf("the framework API has %d consts and vars; the budget is %d", values, maxConstsVars)
	}
	for _, pkg := range budgeted {
		for _, problem := range shapeProblems(pkg) {
			t.Error(problem)
		}
	}
	out, err := exec.Command("go", "doc", "-all", "../../framework").Output()
	if err != nil {
		t.Fatalf("go doc -all ./framework: %v", err)
	}
	if n := bytes.Count(out, []byte("\n")); n > maxDocLines {
		t.Errorf("go doc -all ./framework is %d lines; the budget is %d", n, maxDocLines)
	}
}

// maxDocLines bounds `go doc -all ./framework`, the API as a reader meets it.
// HubOptions.History (issue 15) took 3 lines, found in shorter doc comments
// (Hub, HandshakeHandler, NewServer) rather than in a larger budget.
const maxDocLines = 650

// ownBudget gives the packages under framework that are a layer of their
// own, opted into by the app, a budget apart from the core's, whose
// budget they would otherwise take: framework/events (typed events over
// the nows.v1 protocol) is 8 funcs (Route, RouteFunc, On, Handle, Emit,
// Request, Broadcast, BroadcastOthers), 4 types (Spec, Error,
// JoinHandler, RecoveryHandler: the OnUnrecovered hook of rooms with
// history), Error's method, a const and 2 errors.
//
// framework/client, the Go client of nows.v1, is a library of another
// program (a bot, a service, a test) that never imports the server: 2
// funcs (Dial, New), 5 types (Client, Options, State, Error, Recovery),
// the Client's 10 methods (Connect, On, Handle, OnState, OnRecovery,
// Emit, Request, Join, Leave, Close) with State's String and Error's
// Error, the 4 states and 4 errors. OnRecovery and Recovery (+2) are
// recovery's one way to tell the app that messages of a room were lost
// (internal/recovery/design.md §7); Recovery is a struct, not three
// arguments, so that what a later engine needs to say can be added
// without breaking the apps' callbacks.
//
// framework/history, room history for recovery (internal/recovery/design.md),
// is chosen by the app like a broker adapter: 9 types (Position, Entry,
// Limits, Reason, Result, Update, Store, Config, Memory), 1 func
// (NewMemory), 4 methods (Memory's Append, Since, Watch; Config.Limits)
// and the 3 reasons.
var ownBudget = map[string]Counts{
	"framework/events":  {Funcs: 8, Methods: 1, Types: 4, Consts: 1, Vars: 2},
	"framework/client":  {Funcs: 2, Methods: 12, Types: 5, Consts: 4, Vars: 4},
	"framework/history": {Funcs: 1, Methods: 4, Types: 9, Consts: 3},
}

func TestOwnBudgets(t *testing.T) {
	pkgs, err := modulePackages()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		rel, _ := strings.CutPrefix(pkg.Path(), modulePath+"/")
		budget, ok := ownBudget[rel]
		if !ok {
			continue
		}
		c := Count(pkg)
		t.Logf("%s: %+v (budget %+v)", rel, c, budget)
		if c.Funcs+c.Methods+c.Types > budget.Funcs+budget.Methods+budget.Types || c.Consts+c.Vars > budget.Consts+budget.Vars {
			t.Errorf("%s has %+v; its budget is %+v", rel, c, budget)
		}
		for _, problem := range shapeProblems(pkg) {
			t.Error(problem)
		}
	}
}

// shapeProblems reports what the count would not see: an exported alias of
// an internal type, and an exported function-typed field standing in for a
// method.
func shapeProblems(pkg *types.Package) []string {
	var problems []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || !tn.Exported() {
			continue
		}
		if tn.IsAlias() {
			if n, ok := types.Unalias(tn.Type()).(*types.Named); ok && n.Obj().Pkg() != nil && strings.Contains(n.Obj().Pkg().Path(), "/internal/") {
				problems = append(problems, fmt.Sprintf("%s.%s is an alias of the internal type %v", pkg.Name(), name, n))
			}
		}
		st, ok := tn.Type().Underlying().(*types.Struct)
		if !ok {
			continue
		}
		for i := range st.NumFields() {
			f := st.Field(i)
			if _, isFunc := f.Type().Underlying().(*types.Signature); isFunc && f.Exported() {
				problems = append(problems, fmt.Sprintf("%s.%s.%s is an exported function-typed field; make it a method", pkg.Name(), name, f.Name()))
			}
		}
	}
	return problems
}

// fixtureAPI is the listing of testdata/fixture, without "pkg path, ".
const fixtureAPI = `
const Big = 2
const Big Level
const Name = "fixture"
const Name ideal-string
const Small = 1
const Small Level
const Third = 0.333333  // 1/3
const Third ideal-float
func Map[$0 interface{ ~[]$1 }, $1 interface{}, $2 Number]($0, func($1) $2) []$2
func Open(context.Context, ...string) (*File, error)
method (*File) Close() error
method (*Stack[$0]) Push($0)
method (File) Flush()
method (File) Read([]uint8) (int, error)
method (Level) String() string
type Alias = Stack[int]
type Any interface {}
type File struct
type File struct, Meta map[string]chan<- []uint8
type File struct, Path string
type File struct, embedded io.Reader
type Func func(io.Reader) <-chan struct
type Handler interface { Close, Handle }
type Handler interface, Close() error
type Handler interface, Handle(context.Context, []uint8) (int, error)
type Level uint8
type Number interface { ~int | ~float64 }
type Sealed interface, Kind() int32
type Sealed interface, unexported methods
type Stack[$0 comparable] struct
type Stack[$0 comparable] struct, Items []$0
var ErrGone error
`

func TestFixture(t *testing.T) {
	pkgs, err := Load(".", "./testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(fixtureAPI), "\n") {
		want = append(want, "pkg "+modulePath+"/internal/apisnap/testdata/fixture, "+line)
	}
	if d := diffLines(want, Features(pkgs...)); d != "" {
		t.Errorf("listing of testdata/fixture (+ unexpected, - missing):\n%s", d)
	}
	wantCounts := Counts{Funcs: 2, Methods: 3, Types: 9, Consts: 4, Vars: 1}
	if got := Count(pkgs...); got != wantCounts {
		t.Errorf("Count = %+v, want %+v", got, wantCounts)
	}
}

func TestPublicDirs(t *testing.T) {
	root := t.TempDir()
	for _, file := range []string{
		"a/a.go", "b/c/c.go", // public
		"a/internal/x/x.go", "testdata/t/t.go", "vendor/v/v.go", ".git/g.go", "_old/o.go",
		"cli/app/app.go", "examples/echo/main.go", "nested/go.mod", "nested/n.go",
		"tests/x_test.go", "docs/README.md",
	} {
		path := filepath.Join(root, file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := PublicDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./a", "./b/c"}; !slices.Equal(got, want) {
		t.Errorf("PublicDirs = %q, want %q", got, want)
	}
}
