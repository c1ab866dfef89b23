// Package generate implements the commands that write code: nows new,
// nows blueprint add/remove and nows handler add. Templates come from an
// fs.FS laid out like the templates module (project/, blueprint/).
package generate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/nowebsocket/nows/cli/internal/discover"
	"github.com/nowebsocket/nows/cli/internal/project"
	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/scaffold"
	"github.com/nowebsocket/nows/cli/internal/ui"
)

// ProjectData is what the project templates see.
type ProjectData struct {
	Name             string  // the directory name, such as myapp
	Module           string  // the module path
	GoVersion        string  // the go directive
	NowsVersion      string  // the version of nows required
	WebsocketVersion string  // the version of github.com/coder/websocket required
	Replace          string  // the nows checkout to use, or ""
	Broker           *Broker // the broker main.go can use (--broker), or nil for the in-process hub alone
}

// DefaultWebsocketVersion is required when neither the nows checkout nor the
// binary says which github.com/coder/websocket to use.
const DefaultWebsocketVersion = "v1.8.15"

// ProjectFiles renders the files of a new project, the registry included.
func ProjectFiles(templates fs.FS, data ProjectData) ([]scaffold.File, error) {
	files, err := scaffold.Render(templates, "project", data)
	if err != nil {
		return nil, err
	}
	var pkg []discover.File
	for _, f := range files {
		if path.Dir(f.Path) == "blueprints" && discover.IsPackageFile(path.Base(f.Path)) {
			pkg = append(pkg, discover.File{Name: path.Base(f.Path), Src: f.Data})
		}
	}
	reg, err := registry.Generate("blueprints", pkg)
	if err != nil {
		return nil, err
	}
	files = append(files, scaffold.File{Path: "blueprints/" + registry.FileName, Data: reg})
	slices.SortFunc(files, func(a, b scaffold.File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// NewOptions are the options of nows new.
type NewOptions struct {
	Dir    string // the directory to create, such as myapp
	Module string // defaults to the directory's name
	Dev    string // a nows checkout (--dev)
	Force  bool   // write into a non-empty directory
	NoTidy bool   // do not run go mod tidy
	Broker string // wire this broker into main.go: "", nats or redis (see Brokers)
}

var modulePath = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*(/[A-Za-z0-9._~-]+)*$`)

// New creates a project. Every file is rendered in memory, then written to
// a temporary directory next to the target, where go mod tidy runs; only
// then is it renamed into place, so an error leaves nothing behind.
func New(ctx context.Context, u *ui.UI, templates fs.FS, opt NewOptions) error {
	target, err := filepath.Abs(opt.Dir)
	if err != nil {
		return err
	}
	name := filepath.Base(target)
	broker, err := LookupBroker(opt.Broker)
	if err != nil {
		return err
	}
	if opt.Module == "" {
		opt.Module = name
	}
	if !modulePath.MatchString(opt.Module) || strings.Contains(opt.Module, "..") {
		return fmt.Errorf("module path %q is not valid: use letters, digits and ._~- separated by /, such as example.com/%s (--module)", opt.Module, snake(name))
	}
	if !modulePath.MatchString(name) {
		return fmt.Errorf("project name %q: use letters, digits and ._~-, such as %s", name, strings.ReplaceAll(snake(name), "_", "-"))
	}
	empty, exists, err := dirState(target)
	if err != nil {
		return err
	}
	if !empty && !opt.Force {
		return fmt.Errorf("%s already exists and is not empty: choose another name, or pass --force to write the project into it (files with other content are overwritten)", opt.Dir)
	}
	src, err := project.FindSource(opt.Dev)
	if err != nil {
		return err
	}
	data := ProjectData{
		Name: name, Module: opt.Module, NowsVersion: src.Version, Replace: src.Checkout,
		GoVersion: goVersion(), WebsocketVersion: DefaultWebsocketVersion, Broker: broker,
	}
	var seedSum []byte
	if src.Checkout != "" {
		mod, err := os.ReadFile(filepath.Join(src.Checkout, "go.mod"))
		if err != nil {
			return err
		}
		if v := project.GoVersion(mod); v != "" {
			data.GoVersion = v
		}
		if v := project.Require(mod, "github.com/coder/websocket"); v != "" {
			data.WebsocketVersion = v
		}
		// The checkout's go.sum has the hashes of everything nows needs,
		// so go mod tidy does not have to ask the checksum database.
		seedSum, _ = os.ReadFile(filepath.Join(src.Checkout, "go.sum"))
	} else if v := depVersion("github.com/coder/websocket"); v != "" {
		data.WebsocketVersion = v
	}
	files, err := ProjectFiles(templates, data)
	if err != nil {
		return err
	}
	if exists {
		// Over an existing project (--force), the registry must list the
		// blueprint files already in blueprints/ too, not only the echo
		// blueprint of the template: it is computed now from the files the
		// directory will hold, so a package it cannot list stops nows new
		// before anything is written.
		if files, err = withExistingBlueprints(target, opt.Dir, files); err != nil {
			return err
		}
	}

	with := ""
	if broker != nil {
		with = ", broker " + broker.Title
	}
	u.Heading("Creating %s (module %s%s, nows from %s)", opt.Dir, opt.Module, with, sourceText(src))
	stage, err := os.MkdirTemp(filepath.Dir(target), "."+name+".nows-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage) // after a successful rename, nothing is left to remove
	if err := scaffold.Apply(ui.New(discard{}, discard{}, true), stage, files, scaffold.Options{}); err != nil {
		return err
	}
	show := opt.Dir + string(filepath.Separator)
	for _, f := range files {
		u.Status(statusOf(target, f), filepath.ToSlash(show+f.Path))
	}
	var skipped []string // what go mod tidy could not resolve, and the project does not need
	if !opt.NoTidy {
		if seedSum != nil {
			if err := os.WriteFile(filepath.Join(stage, "go.sum"), seedSum, 0o644); err != nil {
				return err
			}
		}
		u.Status(ui.Run, "go mod tidy")
		if skipped, err = tidy(ctx, stage); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(stage, "go.sum")); err == nil {
			u.Status(statusOf(target, scaffold.File{Path: "go.sum"}), filepath.ToSlash(show+"go.sum"))
		}
	}
	if err := moveInto(stage, target, exists); err != nil {
		return err
	}

	u.Success("Created %s", opt.Dir)
	if len(skipped) > 0 {
		u.Hint("go mod tidy could not resolve what only your dependencies' own tests import (offline?):")
		for _, l := range skipped {
			u.Hint("    %s", l)
		}
		u.Hint("The project builds and tests without it; run go mod tidy when online to complete go.sum.")
	}
	if src.Checkout != "" {
		u.Hint("go.mod replaces %s with %s (%s).", project.NowsModule, src.Checkout, src.How)
	}
	u.Line("")
	u.Line("Next:")
	u.Command("cd " + opt.Dir)
	if opt.NoTidy {
		u.Command("go mod tidy")
	}
	u.Command("nows run                                # then open http://127.0.0.1:8765/")
	if broker != nil {
		u.Command(fmt.Sprintf("nows run -- --broker %s  # one node of several: see README.md", broker.URL))
	}
	u.Command("nows blueprint add chat --prefix /chat  # a new blueprint, with its test")
	u.Command("go test ./...")
	return nil
}

// withExistingBlueprints returns files with the registry rebuilt from the
// Go files of target/blueprints that files do not replace, and those of
// files. shown is target as the user named it, for errors.
func withExistingBlueprints(target, shown string, files []scaffold.File) ([]scaffold.File, error) {
	dir := filepath.Join(target, "blueprints")
	existing, err := discover.ReadPackage(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	pkg := map[string]discover.File{}
	for _, f := range existing {
		pkg[f.Name] = f
	}
	reg := -1
	for i, f := range files {
		if path.Dir(f.Path) != "blueprints" {
			continue
		}
		name := path.Base(f.Path)
		if name == registry.FileName {
			reg = i
		}
		if discover.IsPackageFile(name) {
			pkg[name] = discover.File{Name: name, Src: f.Data}
		}
	}
	if reg < 0 {
		return files, nil
	}
	all := make([]discover.File, 0, len(pkg))
	for _, f := range pkg {
		all = append(all, f)
	}
	slices.SortFunc(all, func(a, b discover.File) int { return strings.Compare(a.Name, b.Name) })
	shownDir := filepath.ToSlash(filepath.Join(shown, "blueprints"))
	why := "(" + shownDir + " already has these files, and the new registry must list their blueprints; nothing was written)"
	if _, err := discover.Scan(shownDir, all); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, why)
	}
	data, err := registry.Generate("blueprints", all)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", shownDir, err, why)
	}
	files = slices.Clone(files)
	files[reg].Data = data
	return files, nil
}

// tidy runs go mod tidy in dir. Tidy also resolves the imports of the
// tests of every package the project imports (go-redis's tests import
// ginkgo, gomega and xxh3), which the project never builds and which an
// offline module cache may lack. When tidy fails, it runs again with -e,
// then go list -deps -test ./... checks strictly that everything the
// project builds and tests resolves: if so, tidy returns the problems it
// skipped (for a hint) and no error; if not, the first tidy's error.
func tidy(ctx context.Context, dir string) (skipped []string, err error) {
	out, err := goCmd(ctx, dir, "mod", "tidy")
	if err == nil {
		return nil, nil
	}
	if _, eerr := goCmd(ctx, dir, "mod", "tidy", "-e"); eerr == nil {
		if _, lerr := goCmd(ctx, dir, "list", "-deps", "-test", "./..."); lerr == nil {
			return tidyProblems(out), nil
		}
	}
	return nil, fmt.Errorf("go mod tidy failed, so nothing was written (fix the problem, or pass --no-tidy and run it yourself later): %w\n%s", err, out)
}

// tidyProblems returns the last line of each import chain go mod tidy
// reported ("github.com/bsm/gomega: module lookup disabled by GOPROXY=off")
// and its other errors, once each.
func tidyProblems(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		l = strings.TrimPrefix(strings.TrimSpace(l), "go: ")
		if l == "" || strings.HasPrefix(l, "downloading ") || strings.HasPrefix(l, "finding ") ||
			strings.HasSuffix(l, " imports") || strings.HasSuffix(l, " tested by") {
			continue
		}
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return lines
}

// goCmd runs the go command in dir and returns its combined output, trimmed.
func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func sourceText(src project.Source) string {
	if src.Checkout != "" {
		return src.Checkout
	}
	return src.How
}

// statusOf says what writing f under dir does.
func statusOf(dir string, f scaffold.File) ui.Status {
	old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
	switch {
	case err != nil:
		return ui.Create
	case f.Data != nil && bytes.Equal(old, f.Data):
		return ui.Identical
	default:
		return ui.Force
	}
}

// dirState reports whether dir is missing or empty, and whether it exists.
func dirState(dir string) (empty, exists bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, false, nil
	}
	if err != nil {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return false, true, fmt.Errorf("%s exists and is not a directory", dir)
		}
		return false, false, err
	}
	return len(entries) == 0, true, nil
}

// moveInto moves the staged project to target: one rename when target is
// missing or empty, else file by file, keeping each file it replaces in
// the stage until every file is in place; when a rename fails, the files
// already moved are taken back and the replaced ones restored, so target
// is left as it was.
func moveInto(stage, target string, exists bool) error {
	if exists {
		if err := os.Remove(target); err == nil {
			exists = false // it was empty
		}
	}
	if !exists {
		if err := os.Chmod(stage, 0o755); err != nil {
			return err
		}
		return os.Rename(stage, target)
	}
	var rels []string
	err := filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(stage, p)
		rels = append(rels, rel)
		return err
	})
	if err != nil {
		return err
	}
	backup, err := os.MkdirTemp(stage, ".replaced-*")
	if err != nil {
		return err
	}
	type moved struct{ rel, old string } // old: where the replaced file waits, or ""
	var done []moved
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			m := done[i]
			dst := filepath.Join(target, m.rel)
			os.Rename(dst, filepath.Join(stage, m.rel))
			if m.old != "" {
				os.Rename(m.old, dst)
			}
		}
	}
	for _, rel := range rels {
		dst := filepath.Join(target, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			undo()
			return err
		}
		m := moved{rel: rel}
		if fi, err := os.Lstat(dst); err == nil && !fi.IsDir() {
			m.old = filepath.Join(backup, strings.ReplaceAll(rel, string(filepath.Separator), "%"))
			if err := os.Rename(dst, m.old); err != nil {
				undo()
				return err
			}
		}
		if err := os.Rename(filepath.Join(stage, rel), dst); err != nil {
			if m.old != "" {
				os.Rename(m.old, dst)
			}
			undo()
			return fmt.Errorf("moving %s into %s (the directory is left as it was): %w", rel, target, err)
		}
		done = append(done, m)
	}
	return nil
}

// goVersion is the go directive for a project made without a checkout: the
// version of the Go that built nows.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if i := strings.IndexAny(v, " -+"); i >= 0 {
		v = v[:i]
	}
	return v
}

// depVersion returns the version of module path linked into the binary.
func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return ""
}
