package routes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nowebsocket/nows/internal/route"
)

// AppRoute is one line of what an app prints with --routes: a
// framework.RouteInfo.
type AppRoute struct {
	Template string `json:"template"`
	Handler  string `json:"handler"`
	Source   string `json:"source"` // "dir/file.go:line"
}

// ErrNoRoutesFlag is returned by Ask when the app does not define
// --routes: its main does not bind its flags with Options.BindFlags.
var ErrNoRoutesFlag = errors.New("the app does not define --routes")

// AppError is an app that exited with an error instead of printing its
// routes: a route conflict, a bad handler, a bad environment variable.
type AppError struct {
	Status string // how it exited: "status 1"
	Stderr string // what it printed on stderr, its error among it
}

func (e *AppError) Error() string {
	return fmt.Sprintf("the app exited with %s instead of listing its routes", e.Status)
}

// TimeoutError is an app that was still running when Ask gave up on it,
// and was killed.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the app did not exit within %v of being started with --routes, and was killed", e.After)
}

// Ask runs the app binary bin in dir with --routes and returns the routes
// it prints: framework.Run prints them after registering the blueprints,
// and exits without listening. An app whose main does not know --routes
// fails on the flag instead (ErrNoRoutesFlag). The app runs with the
// environment of nows, NOWS_ADDR set to 127.0.0.1:0 so that an app that
// ignores its flags and serves takes no port anyone uses, and NOWS_BROKER
// unset, so that listing the routes does not connect to a broker (a
// project of nows new --broker connects before Run); it is killed after
// timeout.
func Ask(ctx context.Context, bin, dir string, timeout time.Duration) ([]AppRoute, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--routes")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NOWS_ADDR=127.0.0.1:0", "NOWS_BROKER=")
	cmd.WaitDelay = 2 * time.Second // for output still held by the app's children
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, &TimeoutError{After: timeout}
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, err
		}
		if strings.Contains(stderr.String(), "flag provided but not defined: -routes") {
			return nil, ErrNoRoutesFlag
		}
		return nil, &AppError{Status: exitStatus(ee), Stderr: strings.TrimRight(stderr.String(), "\n")}
	}
	return parseAppRoutes(stdout.Bytes())
}

func exitStatus(ee *exec.ExitError) string {
	if code := ee.ExitCode(); code >= 0 {
		return fmt.Sprintf("status %d", code)
	}
	return ee.ProcessState.String()
}

// parseAppRoutes reads the JSON lines of --routes. Other lines (a log
// line on stdout, say) are skipped.
func parseAppRoutes(out []byte) ([]AppRoute, error) {
	var rs []AppRoute
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var r AppRoute
		if err := json.Unmarshal(line, &r); err != nil || r.Template == "" {
			continue
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// FromApp builds the table of the routes an app registered, in its order
// (from the most to the least specific). root is the project root: a
// source in its directory ("myapp/main.go:40") becomes "main.go:40". The
// routes declared in the blueprint files get their blueprint and prefix
// from static (the table of Analyze, or nil), matched by file and line.
//
// A parameter type the CLI does not know is one of the app's
// Options.ParamTypes: it matches any non-empty segment here, since nows
// cannot run the app's parser.
func FromApp(app []AppRoute, root string, static *Table, types []string) (*Table, error) {
	declared := map[string]*Route{}
	if static != nil {
		for _, r := range static.Routes {
			declared[r.Source()] = r
		}
	}
	t := &Table{FromApp: true}
	for i, a := range app {
		r := &Route{Template: a.Template, Handler: a.Handler, Params: []Param{}, Status: OK, order: i}
		r.File, r.Line = splitSource(a.Source, root)
		if d := declared[r.Source()]; d != nil && d.Handler == a.Handler && r.Line != 0 {
			r.Blueprint, r.Prefix = d.Blueprint, d.Prefix
		}
		pat, err := route.Parse(a.Template, appTypes(a.Template, types)...)
		if err != nil {
			return nil, fmt.Errorf("the app registered route %s (%s), which nows cannot read: %w", a.Template, a.Source, err)
		}
		r.pattern, r.Canonical = pat, pat.String()
		for _, pi := range pat.Params() {
			r.Params = append(r.Params, Param{Name: pi.Name, Type: pi.Type})
		}
		t.Routes = append(t.Routes, r)
	}
	return t, nil
}

// IsCustomType reports whether typ is a parameter type the app defines
// (Options.ParamTypes), not a built-in one.
func IsCustomType(typ string) bool { return !route.Builtin(typ) }

// appTypes returns the custom types a template of the app uses: those of
// types, and the type of every {name:type} whose types the CLI does not
// know, each matching any non-empty segment.
func appTypes(template string, types []string) []route.Type {
	known := map[string]bool{}
	var custom []route.Type
	add := func(name string) {
		if !known[name] && !route.Builtin(name) {
			known[name] = true
			custom = append(custom, route.Type{Name: name, Parse: func(s string) (any, error) { return s, nil }})
		}
	}
	for _, t := range types {
		add(t)
	}
	for _, seg := range strings.Split(template, "/") {
		body, ok := strings.CutPrefix(seg, "{")
		if body, ok = strings.CutSuffix(body, "}"); !ok {
			continue
		}
		name, typ, typed := strings.Cut(body, ":")
		if !typed || route.Builtin(typ) || known[typ] || route.Builtin(name) || known[name] {
			continue
		}
		add(typ) // {name:type}; for {type:name} the names are swapped, the match the same
	}
	return custom
}

// splitSource splits a framework source, "dir/file.go:line", into a path
// relative to root and a line (0 when there is none).
func splitSource(src, root string) (string, int) {
	file, line := src, 0
	if i := strings.LastIndexByte(src, ':'); i > 0 {
		if n, err := strconv.Atoi(src[i+1:]); err == nil {
			file, line = src[:i], n
		}
	}
	dir, base := filepath.Split(filepath.FromSlash(file))
	dir = filepath.Clean(dir)
	switch {
	case exists(filepath.Join(root, dir, base)):
	case dir == filepath.Base(root) && exists(filepath.Join(root, base)):
		file = base // the project's own directory: main.go
	}
	return filepath.ToSlash(file), line
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
