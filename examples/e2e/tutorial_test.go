package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTutorial runs docs/tutorial.md as a reader would, then its Chinese
// twin docs/zh/tutorial.md as a reader of that page alone would
// (TestTutorial/en, TestTutorial/zh): it builds nows onto a temporary
// PATH and runs the page's ```sh blocks in order, in a temporary
// directory, with bash. Markers in HTML comments (invisible on the
// rendered page) say how:
//
//	<!-- test: skip REASON -->   the next block is shown, not run
//	<!-- test: serve [CHECK] --> the next block starts a server: it runs in
//	                             the background until the next ## heading
//	                             (or the next serve, which stops every
//	                             process started), and the check CHECK
//	                             (tutorialChecks) runs once it listens
//	<!-- test: start NAME [CHECK] -->
//	                             the next block starts a process NAME
//	                             beside those running (a node, NATS): as
//	                             serve, but it waits for the first of the
//	                             page's addresses the block names, if any
//	<!-- test: stop NAME -->     stop NAME as Ctrl-C does, and wait
//	<!-- test: check NAME -->    run the check NAME now
//	<!-- from: examples/tutorial/PATH -->
//	                             the next block quotes that file: each of
//	                             its lines is in it, in order, and the test
//	                             copies the file into the project (PATH)
//
// Any other block must be ```sh (run: it must succeed) or ```text right
// after one: the output the page says the reader sees, each line found in
// order in the command's output ("..." matches anything, runs of blanks
// are one). The page's addresses, 127.0.0.1:8765 to :8768 and NATS's
// 127.0.0.1:4222 (-p 4222), become free ports; $TMPDIR is the test's, so
// that nats-server -js keeps its JetStream there. At the end the project
// must equal examples/tutorial (go.mod but its replace line) and pass go
// vet and go test.
func TestTutorial(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nows and the tutorial's app several times")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bin")
	buildTools(t, root, bin)
	// TestChineseTwins compares the twin's blocks with the page's, not its
	// markers: a reader follows the twin alone, so it is run too.
	for _, page := range []struct{ lang, path string }{{"en", "docs/tutorial.md"}, {"zh", "docs/zh/tutorial.md"}} {
		t.Run(page.lang, func(t *testing.T) { runTutorial(t, root, bin, page.path) })
	}
}

// runTutorial follows page, the tutorial or its twin, with the tools in
// bin, and checks the project it makes.
func runTutorial(t *testing.T, root, bin, page string) {
	actions := parseTutorial(t, root, page)
	r := newTutorialRun(t, root, bin, page)
	defer r.stopAll()
	for _, a := range actions {
		r.do(a)
	}
	r.stopAll()
	r.compareWithExample()
	r.sh(tutorialAction{text: "go vet ./...\ngo test -count=1 ./..."}, r.project) // line 0: the test's own
}

// tutorialAction is one thing the page says to do, in the page's order.
type tutorialAction struct {
	line    int    // in the page
	kind    string // "heading", "check", "stop", or a block's language
	text    string // the block's body, the check's name, or the process's
	from    string // the file the block quotes
	mode    string // of a sh block: "run", "serve", "start" or "skip"
	arg     string // serve's check, start's name [and check], skip's reason
	output  string // the ```text block after a sh block
	outLine int
}

var testMarker = regexp.MustCompile(`^<!-- test: (skip|serve|start|stop|check)\b ?(.*?) ?-->$`)

// parseTutorial returns the headings, checks and blocks of page (a slash
// path under root), with their markers, failing on a marker or block the
// runner cannot follow.
func parseTutorial(t *testing.T, root, page string) []tutorialAction {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	var acts []tutorialAction
	var pending tutorialAction // markers waiting for their block
	var block *tutorialAction
	afterSh := false // nothing but blank lines since a sh block that ran
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if block != nil {
			if trimmed != "```" {
				block.text += line + "\n"
				continue
			}
			acts, afterSh = closeBlock(t, page, acts, *block, afterSh)
			block = nil
			continue
		}
		m := testMarker.FindStringSubmatch(trimmed)
		switch {
		case strings.HasPrefix(line, "```"):
			b := pending
			b.line, b.kind = n, strings.TrimPrefix(trimmed, "```")
			block, pending = &b, tutorialAction{}
		case fromComment.MatchString(trimmed):
			pending.from = fromComment.FindStringSubmatch(trimmed)[1]
		case m != nil && (m[1] == "check" || m[1] == "stop"):
			acts = append(acts, tutorialAction{line: n, kind: m[1], text: m[2]})
		case m != nil:
			pending.mode, pending.arg = m[1], m[2]
		case strings.HasPrefix(line, "## "):
			acts = append(acts, tutorialAction{line: n, kind: "heading", text: line})
			fallthrough
		case trimmed != "":
			if pending != (tutorialAction{}) {
				t.Fatalf("%s:%d: a marker must come right before its block", page, n)
			}
			afterSh = false
		}
	}
	if err := sc.Err(); err != nil || block != nil {
		t.Fatalf("%s: unterminated block or %v", page, err)
	}
	return acts
}

// closeBlock checks a block's markers and adds it to acts, or adds an
// output block to the sh block before it.
func closeBlock(t *testing.T, page string, acts []tutorialAction, b tutorialAction, afterSh bool) ([]tutorialAction, bool) {
	t.Helper()
	switch {
	case b.kind == "text" && afterSh && b.from == "" && b.mode == "":
		acts[len(acts)-1].output, acts[len(acts)-1].outLine = b.text, b.line
		return acts, false
	case b.kind == "text":
		t.Fatalf("%s:%d: a text block must follow a sh block that runs", page, b.line)
	case b.kind == "sh" && b.from != "":
		t.Fatalf("%s:%d: a sh block quotes no file", page, b.line)
	case b.kind == "sh" && b.mode == "skip" && b.arg == "":
		t.Fatalf("%s:%d: say why the block is skipped", page, b.line)
	case b.kind == "sh" && b.mode == "start" && b.arg == "":
		t.Fatalf("%s:%d: name the process the block starts", page, b.line)
	case b.kind == "sh" && b.mode == "":
		b.mode = "run"
	case b.kind != "sh" && (b.from == "" || b.mode != ""):
		t.Fatalf("%s:%d: a %s block needs <!-- from: examples/tutorial/... --> (and no test marker)", page, b.line, b.kind)
	case b.kind != "sh" && !strings.HasPrefix(b.from, "examples/tutorial/"):
		t.Fatalf("%s:%d: the page quotes examples/tutorial only, not %s", page, b.line, b.from)
	}
	return append(acts, b), b.kind == "sh" && b.mode != "skip"
}

// tutorialRun is the state of one run of the page.
type tutorialRun struct {
	t               *testing.T
	root            string            // the nows checkout
	page            string            // the page followed, for messages
	work, dir       string            // where the reader starts; where they are now
	project         string            // the project nows new makes: examples/tutorial's copy
	addr, adminAddr string            // the app's, instead of 127.0.0.1:8765 and :8766
	addrs           map[string]string // every address of the page → the test's
	env             []string
	subst           *strings.Replacer
	servers         map[string]*tutorialServer // the processes running, by name
	started         int                        // processes started so far
	serverCleanups  []func()                   // what the checks leave open until stopAll
	tabs            map[string]context.Context // browser tabs the checks share, by name
}

// newTutorialRun prepares a run of the page followed, with the tools in
// bin on its PATH.
func newTutorialRun(t *testing.T, root, bin, followed string) *tutorialRun {
	work := t.TempDir()
	r := &tutorialRun{t: t, root: root, page: followed, work: work, dir: work, project: filepath.Join(work, "chat"),
		addrs: map[string]string{}, servers: map[string]*tutorialServer{}, tabs: map[string]context.Context{}}
	var pairs []string
	for _, page := range []string{"127.0.0.1:8765", "127.0.0.1:8766", "127.0.0.1:8767", "127.0.0.1:8768", "127.0.0.1:4222"} {
		r.addrs[page] = freeAddr(t)
		pairs = append(pairs, page, r.addrs[page])
	}
	_, natsPort, _ := net.SplitHostPort(r.addrs["127.0.0.1:4222"])
	r.addr, r.adminAddr = r.addrs["127.0.0.1:8765"], r.addrs["127.0.0.1:8766"]
	r.subst = strings.NewReplacer(append(pairs, "-p 4222", "-p "+natsPort)...)
	tmp := filepath.Join(work, ".tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOWS_") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "GOFLAGS=") && !strings.HasPrefix(kv, "TMPDIR=") {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOTOOLCHAIN=local", "GOWORK=off",
		"NO_COLOR=1", "NOWS_ADDR="+r.addr, "NOWS_ADMIN_ADDR="+r.adminAddr, "TMPDIR="+tmp)
	return r
}

// buildTools builds nows into bin, and nats-server, the version go.mod
// names, when there is none on $PATH (the reader installs it; .ci/run
// installs Debian's).
func buildTools(t *testing.T, root, bin string) {
	pkgs := map[string]string{"nows": "./cli/nows"}
	if _, err := exec.LookPath("nats-server"); err != nil {
		t.Logf("no nats-server on $PATH: building github.com/nats-io/nats-server/v2 of go.mod")
		pkgs["nats-server"] = "github.com/nats-io/nats-server/v2"
	}
	for name, pkg := range pkgs {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
}

// do does one action of the page.
func (r *tutorialRun) do(a tutorialAction) {
	r.t.Helper()
	switch {
	case a.kind == "heading":
		r.stopAll()
		r.t.Logf("%s:%d: %s", r.page, a.line, a.text)
	case a.kind == "check":
		r.check(a.line, a.text)
	case a.kind == "stop":
		r.stop(a.line, a.text)
	case a.from != "":
		r.copyFromExample(a)
	case a.mode == "run":
		out := r.sh(a, r.dir)
		r.expectOutput(a, func() string { return out }, 0)
	case a.mode == "serve":
		r.stopAll()
		r.start(a, "server", a.arg)
	case a.mode == "start":
		name, check, _ := strings.Cut(a.arg, " ")
		r.start(a, name, check)
	}
}

// sh runs a block with bash in dir, fails the test unless it succeeds,
// follows its cd, and returns its output.
func (r *tutorialRun) sh(a tutorialAction, dir string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 3*time.Minute)
	defer cancel()
	pwd := filepath.Join(r.work, ".pwd")
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", r.subst.Replace(a.text)+"\npwd >"+pwd)
	cmd.Dir, cmd.Env = dir, r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s:%d: %v\n%s\n%s", r.page, a.line, err, a.text, out)
	}
	if dir == r.dir {
		now, err := os.ReadFile(pwd)
		if err != nil {
			r.t.Fatal(err)
		}
		r.dir = strings.TrimSpace(string(now))
	}
	return string(out)
}

// expectOutput waits until out() shows the block's output, for at most
// wait (0: it must now).
func (r *tutorialRun) expectOutput(a tutorialAction, out func() string, wait time.Duration) {
	r.t.Helper()
	if a.output == "" {
		return
	}
	deadline := time.Now().Add(wait)
	for {
		missing, ok := outputShows(out(), r.subst.Replace(a.output))
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s:%d: the output has no line %q (or not in this order); it is:\n%s", r.page, a.outLine, missing, out())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outputShows reports whether each line of want matches a line of out,
// in order, or returns the first that does not.
func outputShows(out, want string) (string, bool) {
	blanks := regexp.MustCompile(`\s+`)
	have := strings.Split(out, "\n")
	i := 0
	for w := range strings.SplitSeq(want, "\n") {
		w = blanks.ReplaceAllString(strings.TrimSpace(w), " ")
		if w == "" || w == "..." {
			continue
		}
		for i < len(have) && !lineMatches(blanks.ReplaceAllString(strings.TrimSpace(have[i]), " "), w) {
			i++
		}
		if i == len(have) {
			return w, false
		}
		i++
	}
	return "", true
}

// lineMatches reports whether line is pattern, where each "..." of the
// pattern stands for any text.
func lineMatches(line, pattern string) bool {
	parts := strings.Split(pattern, "...")
	if !strings.HasPrefix(line, parts[0]) {
		return false
	}
	line = line[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(line, p)
		if i < 0 {
			return false
		}
		line = line[i+len(p):]
	}
	return parts[len(parts)-1] == "" || line == ""
}

// copyFromExample checks that the block quotes its file and copies the
// file into the project, as the reader edits it to read like the block.
func (r *tutorialRun) copyFromExample(a tutorialAction) {
	r.t.Helper()
	src, err := os.ReadFile(filepath.Join(r.root, a.from))
	if err != nil {
		r.t.Fatalf("%s:%d: %v", r.page, a.line, err)
	}
	if missing, ok := quotes(string(src), strings.Split(a.text, "\n")); !ok {
		r.t.Fatalf("%s:%d: line %q is not in %s (in this order)", r.page, a.line, missing, a.from)
	}
	dst := filepath.Join(r.project, strings.TrimPrefix(a.from, "examples/tutorial/"))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(dst, src, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// compareWithExample checks that the project the page made is
// examples/tutorial, file for file, but for go.mod's replace line and
// what the build writes.
func (r *tutorialRun) compareWithExample() {
	r.t.Helper()
	example := filepath.Join(r.root, "examples", "tutorial")
	want, have := treeOf(r.t, example), treeOf(r.t, r.project)
	delete(have, "chat") // the binary built in step 8 (.gitignore'd)
	replace := regexp.MustCompile(`(?m)^replace github.com/nowebsocket/nows => .*$`)
	for _, m := range []map[string]string{want, have} {
		m["go.mod"] = replace.ReplaceAllString(m["go.mod"], "replace github.com/nowebsocket/nows => CHECKOUT")
	}
	for name, w := range want {
		if h, ok := have[name]; !ok {
			r.t.Errorf("examples/tutorial/%s: the tutorial never makes it", name)
		} else if h != w {
			r.t.Errorf("examples/tutorial/%s differs from what the tutorial makes: %s", name, firstDiff(w, h))
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			r.t.Errorf("the tutorial makes %s, which examples/tutorial lacks", name)
		}
	}
}

// firstDiff describes the first line where have differs from want.
func firstDiff(want, have string) string {
	w, h := strings.Split(want, "\n"), strings.Split(have, "\n")
	for i := range max(len(w), len(h)) {
		wl, hl := "(end of file)", "(end of file)"
		if i < len(w) {
			wl = w[i]
		}
		if i < len(h) {
			hl = h[i]
		}
		if wl != hl {
			return fmt.Sprintf("line %d is %q there, %q in the tutorial's project", i+1, wl, hl)
		}
	}
	return "same lines"
}

// treeOf returns the files under dir, by slash path, with their content.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// tutorialServer is the process of a serve or start block.
type tutorialServer struct {
	seq  int // the how-manyth process started
	cmd  *exec.Cmd
	out  lockedOutput
	done chan struct{}
}

// pageAddr is an address as the page writes it.
var pageAddr = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// start starts a block in the background as the process name, waits
// until its output shows what the page says and it listens, then runs
// check: a serve block listens on 127.0.0.1:8765 unless it names another
// of the page's addresses; a start block on the first it names, if any.
func (r *tutorialRun) start(a tutorialAction, name, check string) {
	r.t.Helper()
	if r.servers[name] != nil {
		r.t.Fatalf("%s:%d: %s runs already", r.page, a.line, name)
	}
	r.started++
	s := &tutorialServer{seq: r.started, done: make(chan struct{})}
	s.cmd = exec.Command("bash", "-c", r.subst.Replace(a.text))
	s.cmd.Dir, s.cmd.Env = r.dir, r.env
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches nows run and the app
	if err := s.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.servers[name] = s
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	r.expectOutput(a, s.out.String, 2*time.Minute)
	addr := ""
	if a.mode == "serve" {
		addr = r.addr
	}
	for _, page := range pageAddr.FindAllString(a.text, -1) {
		if r.addrs[page] != "" {
			addr = r.addrs[page]
			break
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for addr != "" && !listening(addr) {
		select {
		case <-s.done:
			r.t.Fatalf("%s:%d: %s exited:\n%s", r.page, a.line, name, s.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s:%d: nothing listens on %s after 2 min:\n%s", r.page, a.line, addr, s.out.String())
		}
	}
	if check != "" {
		r.check(a.line, check)
	}
}

// stop stops the process name as Ctrl-C does, and waits for it.
func (r *tutorialRun) stop(line int, name string) {
	r.t.Helper()
	s := r.servers[name]
	if s == nil {
		r.t.Fatalf("%s:%d: no process %s runs", r.page, line, name)
	}
	delete(r.servers, name)
	if line > 0 {
		r.t.Logf("%s:%d: stop %s", r.page, line, name)
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		r.t.Errorf("%s did not stop within 20 s of Ctrl-C:\n%s", name, s.out.String())
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // anything of its group left behind
}

// stopAll closes what the checks left open and stops every process the
// page started, the last started first (the nodes before their NATS).
func (r *tutorialRun) stopAll() {
	for _, f := range slices.Backward(r.serverCleanups) {
		f()
	}
	r.serverCleanups = nil
	clear(r.tabs)
	for _, name := range r.startOrder() {
		r.stop(0, name)
	}
}

// startOrder returns the names of the processes running, the last
// started first.
func (r *tutorialRun) startOrder() []string {
	names := slices.Collect(maps.Keys(r.servers))
	slices.SortFunc(names, func(a, b string) int {
		return r.servers[b].seq - r.servers[a].seq
	})
	return names
}

// whileServing registers f to run at the next heading, when the
// processes stop.
func (r *tutorialRun) whileServing(f func()) {
	r.serverCleanups = append(r.serverCleanups, f)
}

// check runs the named check of tutorialChecks.
func (r *tutorialRun) check(line int, name string) {
	r.t.Helper()
	f, ok := tutorialChecks[name]
	if !ok {
		r.t.Fatalf("%s:%d: no check %q", r.page, line, name)
	}
	r.t.Logf("%s:%d: check %s", r.page, line, name)
	f(r)
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// lockedOutput collects a process's output, read while it runs.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
