package routes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nowebsocket/nows/cli/internal/discover"
)

func TestConflictProblem(t *testing.T) {
	t.Parallel()
	tab, err := FromFiles([]discover.File{
		bp("a_bp.go", "var A = framework.NewBlueprint(\"/x\", framework.Route[H](\"\"))\n"),
		bp("b_bp.go", "var B = framework.NewBlueprint(\"\", framework.Route[H](\"/x\"))\n"),
	}, "blueprints", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Routes[len(tab.Routes)-1]
	want := "matches the same paths as /x (blueprints/a_bp.go:5, handler H): the app does not start"
	if r.Status != Conflict || r.Problem != want || tab.Problems() != 1 {
		t.Errorf("got %s %q (%d problems), want conflict %q", r.Status, r.Problem, tab.Problems(), want)
	}
}

// TestFromApp: the app's routes keep its order, sources in the project's
// own directory lose it, rows declared in the blueprint files get their
// blueprint and prefix, and a custom type matches any segment.
func TestFromApp(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "myapp")
	for _, f := range []string{"main.go", "blueprints/chat_bp.go"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	static, err := FromFiles([]discover.File{
		bp("chat_bp.go", "var Chat = framework.NewBlueprint(\"/chat\",\n\tframework.Route[Room](\"/{id:int}\"),\n)\n"),
	}, "blueprints", nil)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := FromApp([]AppRoute{
		{Template: "/chat/{id:int}", Handler: "Room", Source: "blueprints/chat_bp.go:6"},
		{Template: "/upload/{name:slug}", Handler: "Upload", Source: "myapp/main.go:40"},
		{Template: "/{tag:slug}/{n:int}", Handler: "Tagged", Source: "internal/tags.go:7"},
	}, root, static, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tab.Routes {
		var ps []string
		for _, p := range r.Params {
			ps = append(ps, p.Name+":"+p.Type)
		}
		got = append(got, strings.Join([]string{r.Template, r.Handler, r.Blueprint, r.Prefix, r.Source(), strings.Join(ps, ",")}, " "))
	}
	want := []string{
		"/chat/{id:int} Room Chat /chat blueprints/chat_bp.go:6 id:int",
		"/upload/{name:slug} Upload   main.go:40 name:slug",
		"/{tag:slug}/{n:int} Tagged   internal/tags.go:7 tag:slug,n:int",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !tab.FromApp || tab.Problems() != 0 {
		t.Errorf("FromApp %v, %d problems", tab.FromApp, tab.Problems())
	}
	r, ps, ok := tab.Match("/upload/report.pdf")
	if !ok || r.Handler != "Upload" || ps.Str("name") != "report.pdf" {
		t.Errorf("Match(/upload/report.pdf) = %v %v %q", ok, r, ps.Str("name"))
	}
	if _, _, ok := tab.Match("/upload/"); ok {
		t.Error("Match(/upload/): a custom type matched an empty segment")
	}
}

func TestParseAppRoutes(t *testing.T) {
	t.Parallel()
	out := "starting\n" +
		`{"template":"/a","handler":"A","source":"blueprints/a_bp.go:5"}` + "\n" +
		`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"a log line"}` + "\n" +
		`{"template":"/b","handler":"B","source":"main.go:9"}` + "\n"
	rs, err := parseAppRoutes([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Template != "/a" || rs[1].Source != "main.go:9" {
		t.Errorf("got %+v", rs)
	}
}

// TestAsk runs shell scripts standing in for apps: one whose flag parsing
// refuses --routes, one that fails, one that never exits.
func TestAsk(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts stand in for the app")
	}
	t.Parallel()
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()

	rs, err := Ask(ctx, script("ok", `test "$1" = --routes && test "$NOWS_ADDR" = 127.0.0.1:0 || exit 3
echo '{"template":"/a","handler":"A","source":"main.go:1"}'`), dir, 10*time.Second)
	if err != nil || len(rs) != 1 || rs[0].Template != "/a" {
		t.Errorf("ok: got %v, %v", rs, err)
	}

	_, err = Ask(ctx, script("old", `echo 'flag provided but not defined: -routes' >&2; echo 'Usage of app:' >&2; exit 2`), dir, 10*time.Second)
	if !errors.Is(err, ErrNoRoutesFlag) {
		t.Errorf("old: got %v, want ErrNoRoutesFlag", err)
	}

	_, err = Ask(ctx, script("fail", `echo 'app: framework: route conflict: /a and /a' >&2; exit 1`), dir, 10*time.Second)
	var ae *AppError
	if !errors.As(err, &ae) || ae.Status != "status 1" || ae.Stderr != "app: framework: route conflict: /a and /a" {
		t.Errorf("fail: got %#v", err)
	}

	start := time.Now()
	_, err = Ask(ctx, script("hang", `exec sleep 30`), dir, 200*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) || time.Since(start) > 10*time.Second {
		t.Errorf("hang: got %v after %v, want a TimeoutError", err, time.Since(start))
	}
}
