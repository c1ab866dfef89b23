package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nowebsocket/nows/framework"
)

// testTimeout bounds each browser test: every wait in it ends by then.
const testTimeout = 20 * time.Second

// browser is one headless Chromium shared by the tests (each test gets its
// own tab), started by the first test that needs it and stopped by TestMain.
var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's chromedp context
	stop   func()
	reason string // why there is no browser
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.stop != nil {
		browser.stop()
	}
	os.Exit(code)
}

// chromiumPath finds the browser: $NOWS_CHROMIUM, else chromium (Debian),
// chromium-browser or google-chrome on $PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("NOWS_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on $PATH (install it: apt-get install -y chromium; or set NOWS_CHROMIUM)")
}

func startBrowser() {
	path, err := chromiumPath()
	if err == nil {
		path, err = exec.LookPath(path) // exists and is executable
	}
	if err != nil {
		browser.reason = err.Error()
		return
	}
	// chromedp gives the browser a fresh --user-data-dir and removes it
	// when the browser stops. Without the background-networking flags,
	// Chromium's own connections are refused in the CI sandbox.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(900, 640),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Starting the browser under a timeout would stop it at the deadline:
	// start it on ctx, and bound the wait from outside. On failure,
	// cancelling the allocator kills the process and ends the start.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case err = <-started:
	case <-timer.C:
		cancelAlloc()
		<-started
		err = fmt.Errorf("%s did not start within 30s", path)
	}
	if err != nil {
		cancelAlloc()
		browser.reason = fmt.Sprintf("cannot start %s: %v", path, err)
		return
	}
	browser.ctx = ctx
	browser.stop = func() {
		_ = chromedp.Cancel(ctx) // closes the browser, waits for it
		cancel()
		cancelAlloc()
	}
}

// newTab returns a context for a new browser tab, bounded by testTimeout.
// Without a browser the test skips, or fails when CI=true.
func newTab(t *testing.T) context.Context {
	t.Helper()
	ctx, _ := newClosableTab(t)
	return ctx
}

// newClosableTab is newTab that also returns a func that closes the tab.
func newClosableTab(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	return newTabWithin(t, testTimeout)
}

// newTabWithin is newClosableTab for a test that takes longer than
// testTimeout: the tab's context ends after timeout.
func newTabWithin(t *testing.T, timeout time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.ctx == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests must run in CI: %s", browser.reason)
		}
		t.Skipf("skipping browser test: %s", browser.reason)
	}
	tab, cancelTab := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // opens the tab
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(cancel)
	return ctx, cancelTab
}

// run runs browser actions and fails the test on error.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitText waits until the text of the element matching the CSS selector
// contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	s, _ := json.Marshal(sel)
	x, _ := json.Marshal(text)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](
			fmt.Sprintf(`(document.querySelector(%s)?.textContent ?? "").includes(%s)`, s, x),
			chromedp.WithPollingTimeout(10*time.Second),
		)(ctx, t)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("waiting for %s to show %q: %w", sel, text, err)
		}
		return chromedp.Void{}, nil
	}
}

// textOf returns the text of the element matching the CSS selector.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot saves a PNG of the tab's viewport as name in the artifacts
// directory ($NOWS_ARTIFACTS, else the test's temporary directory) and
// returns it.
func screenshot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("NOWS_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return png
}

// exampleServer runs an example's blueprints on 127.0.0.1 the way its
// main.go does, with staticDir served for every other path, and records
// the HTTP status of every request. opts.Logger defaults to testLogger.
type exampleServer struct {
	URL  string // http://127.0.0.1:port
	Host string // 127.0.0.1:port
	rec  *statusRecorder
}

func serveExample(t *testing.T, opts framework.Options, staticDir string, bps ...*framework.Blueprint) *exampleServer {
	t.Helper()
	opts.Fallback = http.FileServer(http.Dir(staticDir))
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	srv := framework.NewServer(opts)
	if err := srv.Register(bps...); err != nil {
		t.Fatal(err)
	}
	rec := &statusRecorder{}
	ts := httptest.NewServer(rec.wrap(srv))
	t.Cleanup(func() {
		// http.Server.Shutdown does not close WebSockets: the framework
		// server closes its own (1001) first.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		ts.Close()
	})
	return &exampleServer{URL: ts.URL, Host: ts.Listener.Addr().String(), rec: rec}
}

// statusRecorder records the status the server answered each path with.
type statusRecorder struct {
	mu       sync.Mutex
	statuses []string // "GET /echo 403"
}

func (r *statusRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(&statusWriter{ResponseWriter: w, rec: r, what: req.Method + " " + req.URL.Path}, req)
	})
}

func (r *statusRecorder) seen(status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.statuses {
		if s == status {
			return true
		}
	}
	return false
}

func (r *statusRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.statuses)
}

type statusWriter struct {
	http.ResponseWriter
	rec  *statusRecorder
	what string
}

func (w *statusWriter) WriteHeader(code int) {
	w.rec.mu.Lock()
	w.rec.statuses = append(w.rec.statuses, fmt.Sprintf("%s %d", w.what, code))
	w.rec.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Hijack for the upgrade.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// testLogger returns a logger that sends every record, debug included, to
// t.Log: what main makes, for the server and the blueprints' Deps.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends server logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log after the test ended is dropped
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
