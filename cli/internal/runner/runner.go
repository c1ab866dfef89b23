// Package runner implements nows run: rebuild the registry, build the app,
// run it with its flags and pass signals on; with Watch, rebuild and
// restart it when its sources change.
//
// A restart asks the running app to close its clients with 1012 (service
// restart): it sends SIGHUP, which framework.Run, the main of the app made
// by nows new, answers that way. The new build starts
// once the old process has exited and its port is free. A build that fails
// leaves the old process running.
package runner

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/nowebsocket/nows/cli/internal/registry"
	"github.com/nowebsocket/nows/cli/internal/ui"
)

// Options configures Run.
type Options struct {
	Root       string   // the project root (with go.mod)
	Blueprints string   // its blueprints directory
	Args       []string // the app's flags
	Watch      bool
	UI         *ui.UI
	Stdin      io.Reader
	Stdout     io.Writer // the app's output
	Stderr     io.Writer
	// Debounce is how long the watcher waits for changes to settle.
	// Defaults to 200 ms.
	Debounce time.Duration
	// StopTimeout bounds how long a restart waits for the old process to
	// exit before killing it. Defaults to 15 s.
	StopTimeout time.Duration
}

// ExitError is the app's exit status when it is not 0.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("the app exited with status %d", e.Code) }

// Run builds and runs the app until it exits, or until SIGINT or SIGTERM,
// which are passed on to it. With Watch it also rebuilds and restarts the
// app on changes, and only a signal ends it.
func Run(ctx context.Context, opt Options) error {
	opt.Debounce = cmp.Or(opt.Debounce, 200*time.Millisecond)
	opt.StopTimeout = cmp.Or(opt.StopTimeout, 15*time.Second)
	tmp, err := os.MkdirTemp("", "nows-run-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &runner{opt: opt, tmp: tmp, sigc: make(chan os.Signal, 1)}
	signal.Notify(r.sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(r.sigc)
	if opt.Watch {
		return r.watch(ctx)
	}
	bin, err := r.build(ctx)
	if err != nil {
		return err
	}
	p, err := r.start(bin)
	if err != nil {
		return err
	}
	for {
		select {
		case sig := <-r.sigc:
			p.cmd.Process.Signal(sig)
		case <-ctx.Done():
			p.cmd.Process.Signal(os.Interrupt)
			<-p.done
			return exitStatus(p)
		case <-p.done:
			return exitStatus(p)
		}
	}
}

type runner struct {
	opt    Options
	tmp    string
	builds int
	sigc   chan os.Signal
}

// proc is a running app; done is closed once it has exited and err is set.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// build rebuilds the registry and the app, returning the binary's path.
func (r *runner) build(ctx context.Context) (string, error) {
	u := r.opt.UI
	res, err := registry.Sync(r.opt.Blueprints)
	if err != nil {
		return "", fmt.Errorf("nows registry: %w", err)
	}
	if res != registry.Unchanged {
		u.Status(ui.Update, "blueprints/"+registry.FileName)
	}
	r.builds++
	bin := filepath.Join(r.tmp, fmt.Sprintf("app-%d", r.builds)+ExeSuffix())
	u.Status(ui.Run, "go build")
	if err := Build(ctx, r.opt.Root, bin, nil); err != nil {
		return "", err
	}
	return bin, nil
}

// Build runs go build on the main package of root, writing the binary to
// bin (on Windows, give it the .exe suffix). replace maps files of the
// project (absolute paths) to the content the build should see instead, as
// go build -overlay does: the files on disk are left as they are. A
// compiler error is a *BuildError with go build's output.
func Build(ctx context.Context, root, bin string, replace map[string][]byte) error {
	args := []string{"build", "-o", bin}
	if len(replace) > 0 {
		dir, err := os.MkdirTemp(filepath.Dir(bin), "overlay-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		overlay := map[string]map[string]string{"Replace": {}}
		i := 0
		for name, data := range replace {
			i++
			f := filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(name)))
			if err := os.WriteFile(f, data, 0o644); err != nil {
				return err
			}
			overlay["Replace"][name] = f
		}
		js, err := json.Marshal(overlay)
		if err != nil {
			return err
		}
		f := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(f, js, 0o644); err != nil {
			return err
		}
		args = append(args, "-overlay", f)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &BuildError{Output: strings.TrimSpace(out.String()), Err: err}
	}
	return nil
}

// ExeSuffix is what the name of a binary ends with: ".exe" on Windows.
func ExeSuffix() string {
	if isWindows {
		return ".exe"
	}
	return ""
}

// BuildError is a failed go build, with its output.
type BuildError struct {
	Output string
	Err    error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("go build failed (%v):\n%s", e.Err, e.Output)
}

func (e *BuildError) Unwrap() error { return e.Err }

func (r *runner) start(bin string) (*proc, error) {
	r.opt.UI.Status(ui.Run, "app "+strings.Join(r.opt.Args, " "))
	cmd := exec.Command(bin, r.opt.Args...)
	cmd.Dir = r.opt.Root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.opt.Stdin, r.opt.Stdout, r.opt.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func exitStatus(p *proc) error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if code := ee.ExitCode(); code > 0 {
			return &ExitError{Code: code}
		}
		return &ExitError{Code: 1} // killed by a signal
	}
	return p.err
}

// exitDescription says how a process ended: "status 1", "signal: killed".
func exitDescription(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "status 0"
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return fmt.Sprintf("status %d", ee.ExitCode())
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

// stop asks p to restart (1012 to its clients), waits for it to exit
// (killing it after StopTimeout) and for its port to be free.
func (r *runner) stop(p *proc) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(restartSignal)
		t := time.NewTimer(r.opt.StopTimeout)
		select {
		case <-p.done:
			t.Stop()
		case <-t.C:
			r.opt.UI.Warn("the app did not stop within %v: killing it", r.opt.StopTimeout)
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	addr := listenAddr(r.opt.Args)
	if !waitPortFree(addr, 5*time.Second) {
		r.opt.UI.Warn("%s is still in use after the old process exited", addr)
	}
}

// listenAddr returns the address the app listens on: its --addr flag, else
// NOWS_ADDR, else the default, with a wildcard host replaced by 127.0.0.1.
func listenAddr(args []string) string {
	addr := cmp.Or(os.Getenv("NOWS_ADDR"), "0.0.0.0:8765")
	for i, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "addr" {
			continue
		}
		if hasValue {
			addr = value
		} else if i+1 < len(args) {
			addr = args[i+1]
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// waitPortFree dials addr until nothing answers, for at most limit.
func waitPortFree(addr string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// watch runs the app and restarts it on changes until a signal or ctx ends.
func (r *runner) watch(ctx context.Context) error {
	u := r.opt.UI
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := addTree(w, r.opt.Root); err != nil {
		return err
	}

	var p *proc
	rebuild := func() {
		bin, err := r.build(ctx)
		if err != nil {
			u.Warn("%v", err)
			if p != nil {
				u.Warn("still running the previous build; waiting for changes")
			} else {
				u.Warn("waiting for changes")
			}
			return
		}
		if p != nil {
			u.Status(ui.Run, "restart (clients are closed with 1012)")
		}
		r.stop(p)
		p = nil
		if p, err = r.start(bin); err != nil {
			u.Warn("starting the app: %v", err)
		}
	}
	rebuild()
	u.Hint("watching %s for changes (Ctrl-C to stop)", r.opt.Root)

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	var changed []string
	for {
		var done chan struct{}
		if p != nil {
			done = p.done
		}
		select {
		case <-ctx.Done():
			return r.finish(p, os.Interrupt)
		case sig := <-r.sigc:
			return r.finish(p, sig)
		case <-done:
			u.Warn("the app exited by itself, with %s (see its output above)", exitDescription(p.err))
			u.Hint("nows is waiting for a change to rebuild and restart it (Ctrl-C to stop)")
			p = nil
		case err := <-w.Errors:
			u.Warn("watching: %v", err)
		case ev := <-w.Events:
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() && !skipDir(filepath.Base(ev.Name)) {
					addTree(w, ev.Name)
				}
			}
			if !r.relevant(ev) {
				continue
			}
			rel, _ := filepath.Rel(r.opt.Root, ev.Name)
			changed = append(changed, filepath.ToSlash(rel))
			debounce.Reset(r.opt.Debounce)
		case <-debounce.C:
			u.Status(ui.Update, strings.Join(dedupe(changed), ", "))
			changed = changed[:0]
			rebuild()
		}
	}
}

// finish passes sig to the app and waits for it.
func (r *runner) finish(p *proc, sig os.Signal) error {
	if p == nil {
		return nil
	}
	p.cmd.Process.Signal(sig)
	<-p.done
	return exitStatus(p)
}

// relevant reports whether a change may change the built app.
func (r *runner) relevant(ev fsnotify.Event) bool {
	if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return false
	}
	rel, err := filepath.Rel(r.opt.Root, ev.Name)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	base := filepath.Base(rel)
	switch {
	case strings.HasPrefix(base, "."), strings.HasSuffix(base, "~"):
		return false // editor and nows temporary files
	case base == registry.FileName:
		return false // written by the build itself
	case strings.HasPrefix(rel, "static/"):
		return true // embedded in the app
	case strings.HasSuffix(base, "_test.go"):
		return false
	}
	return strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum"
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "vendor" || name == "testdata" || name == "node_modules" || name == "bin"
}

// addTree watches dir and its subdirectories.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
