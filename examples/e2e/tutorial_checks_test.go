package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// tutorialChecks are what TestTutorial checks while a step's server runs
// (<!-- test: serve CHECK -->) or at a point of the page (<!-- test:
// check NAME -->): what the page says the reader sees.
var tutorialChecks = map[string]func(r *tutorialRun){
	"page":    checkTutorialPage,
	"chat":    checkTutorialChat,
	"auth":    checkTutorialAuth,
	"metrics": checkTutorialMetrics,
	"unit":    checkTutorialUnit,
	"nginx":   checkTutorialNginx,

	"history":   checkTutorialHistory,
	"restarted": checkTutorialRestarted,
	"nodes":     checkTutorialNodes,
	"away":      checkTutorialAway,
	"recovered": checkTutorialRecovered,
}

// checkTutorialPage: the new project serves its test page and nows.js.
func checkTutorialPage(r *tutorialRun) {
	for path, want := range map[string]string{"/": "<html", "/_nows/nows.js": `export const SUBPROTOCOL = "nows.v1"`} {
		if body := httpGet(r.t, "http://"+r.addr+path); !strings.Contains(body, want) {
			r.t.Errorf("GET %s: no %q in:\n%.300s", path, want, body)
		}
	}
}

// checkTutorialChat: two clients in the lobby, anonymous, each sees the
// other's message; the page is the chat's.
func checkTutorialChat(r *tutorialRun) {
	if body := httpGet(r.t, "http://"+r.addr+"/"); !strings.Contains(body, `chat.request("chat.send"`) {
		r.t.Errorf("GET /: not the chat page:\n%.300s", body)
	}
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	defer cancel()
	a := joinLobby(ctx, r.t, "ws://"+r.addr+"/chat", "")
	b := joinLobby(ctx, r.t, "ws://"+r.addr+"/chat", "")
	exchange(ctx, r.t, a, b, "", "hello")
}

// checkTutorialAuth: no token and a wrong one get 401; alice's messages
// name her, on the wire and on the page in a browser.
func checkTutorialAuth(r *tutorialRun) {
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	defer cancel()
	for _, q := range []string{"", "?token=guessed"} {
		if _, resp, err := dialEvents(ctx, "ws://"+r.addr+"/chat"+q, ""); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			r.t.Errorf("/chat%s: got %v, %v; want 401", q, resp, err)
		}
	}
	a := joinLobby(ctx, r.t, "ws://"+r.addr+"/chat?token=alice-secret", "")
	b := joinLobby(ctx, r.t, "ws://"+r.addr+"/chat?token=bob-secret", "")
	exchange(ctx, r.t, a, b, "alice", "hello")
	r.t.Run("page", func(t *testing.T) {
		tab := newTab(t)
		run(t, tab, "send as alice from the page",
			chromedp.Navigate("http://"+r.addr+"/?token=alice-secret"),
			waitText("#status", "online"),
			chromedp.SendKeys(chromedp.CSS("#send input"), "hello from the page"),
			chromedp.Click(chromedp.CSS("#send button")),
			waitText("#log", "alice: hello from the page"),
		)
	})
}

// checkTutorialMetrics: alice stays in the lobby while the page's curl
// and nows top look, so they see one connection and one room.
func checkTutorialMetrics(r *tutorialRun) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	c := joinLobby(ctx, r.t, "ws://"+r.addr+"/chat?token=alice-secret", "")
	r.whileServing(func() {
		c.Close(websocket.StatusNormalClosure, "")
		cancel()
	})
}

// checkTutorialUnit: systemd-analyze verify finds nothing to say about
// the unit, with its ExecStart pointing at the binary of step 8 (verify
// checks that it exists and is executable).
func checkTutorialUnit(r *tutorialRun) {
	analyze := needTool(r.t, "systemd-analyze", "systemd")
	if analyze == "" {
		return
	}
	unit := readFile(r.t, filepath.Join(r.project, "deploy", "chat.service"))
	unit = replaceOnce(r.t, unit, "ExecStart=/usr/local/bin/chat ", "ExecStart="+filepath.Join(r.project, "chat")+" ")
	path := filepath.Join(r.t.TempDir(), "chat.service")
	writeFile(r.t, path, unit)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		r.t.Errorf("systemd-analyze verify deploy/chat.service: %v\n%s", err, out)
	}
}

// checkTutorialNginx runs nginx on loopback with the page's site in
// front of the app (its listen and upstream moved to the test's ports):
// the page and a WebSocket round trip through it, with a browser's Origin,
// which the app accepts only if nginx passes the Host on.
func checkTutorialNginx(r *tutorialRun) {
	nginx := needTool(r.t, "nginx", "nginx")
	if nginx == "" {
		return
	}
	dir := r.t.TempDir()
	front := freeAddr(r.t)
	site := readFile(r.t, filepath.Join(r.project, "deploy", "nginx.conf"))
	site = replaceOnce(r.t, site, "listen 80;", "listen "+front+";")
	site = replaceOnce(r.t, site, "server 127.0.0.1:8765;", "server "+r.addr+";")
	writeFile(r.t, filepath.Join(dir, "chat.conf"), site)
	writeFile(r.t, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/chat.conf;
}
`, dir))
	conf := filepath.Join(dir, "nginx.conf")
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", conf).CombinedOutput(); err != nil {
		r.t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	// Its output goes to error.log; its workers are in its process group.
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	defer stopNginx(r.t, cmd, dir)
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	defer cancel()
	for !listening(front) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if body := httpGet(r.t, "http://"+front+"/"); !strings.Contains(body, "/_nows/nows.js") {
		r.t.Errorf("GET / through nginx: not the chat page:\n%.300s", body)
	}
	origin := "http://" + front
	a := joinLobby(ctx, r.t, "ws://"+front+"/chat?token=alice-secret", origin)
	b := joinLobby(ctx, r.t, "ws://"+front+"/chat?token=bob-secret", origin)
	exchange(ctx, r.t, a, b, "alice", "through nginx")
	a.Close(websocket.StatusNormalClosure, "")
	b.Close(websocket.StatusNormalClosure, "")
}

// stopNginx stops nginx and its workers at once (SIGTERM: a graceful
// SIGQUIT would wait for open WebSockets), and waits.
func stopNginx(t *testing.T, cmd *exec.Cmd, dir string) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Error("nginx did not stop within 15 s of SIGTERM")
	}
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Logf("nginx's error.log:\n%s", b)
	}
}

// dialEvents connects to url offering nows.v1, as nows.js does, with
// origin as a browser's Origin ("" for none).
func dialEvents(ctx context.Context, url, origin string) (*websocket.Conn, *http.Response, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{"nows.v1"}}
	if origin != "" {
		opts.HTTPHeader = http.Header{"Origin": {origin}}
	}
	return websocket.Dial(ctx, url, opts)
}

// joinLobby connects and joins the room lobby. The connection is closed
// at the end of the test, if not before.
func joinLobby(ctx context.Context, t *testing.T, url, origin string) *websocket.Conn {
	t.Helper()
	c, _, err := dialEvents(ctx, url, origin)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	write(ctx, t, c, `{"event":"nows.join","id":1,"data":{"room":"lobby"}}`)
	expectMessages(ctx, t, c, `{"reply":1,"data":{"room":"lobby"}}`)
	return c
}

// exchange sends text from a to the lobby as from: a gets its reply and
// the message, b the message.
func exchange(ctx context.Context, t *testing.T, a, b *websocket.Conn, from, text string) {
	t.Helper()
	write(ctx, t, a, fmt.Sprintf(`{"event":"chat.send","id":2,"data":{"room":"lobby","text":%q}}`, text))
	msg := fmt.Sprintf(`{"event":"chat.message","data":{"room":"lobby","from":%q,"text":%q}}`, from, text)
	expectMessages(ctx, t, a, `{"reply":2,"data":{}}`, msg)
	expectMessages(ctx, t, b, msg)
}

func write(ctx context.Context, t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("send %s: %v", text, err)
	}
}

// expectMessages reads len(want) messages, which must be want in any
// order (a reply and a broadcast race), once the members a room with
// history adds are taken out (withoutPos).
func expectMessages(ctx context.Context, t *testing.T, c *websocket.Conn, want ...string) {
	t.Helper()
	var got []string
	for range want {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v (got %q, want %q)", err, got, want)
		}
		got = append(got, string(b))
	}
	for i := range got {
		got[i] = withoutPos(got[i])
	}
	slices.Sort(got)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, sorted) {
		t.Fatalf("got %q, want %q", got, sorted)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(b)
}

// needTool returns the path of a command the check runs; without it, ""
// (the check is skipped, and says so), or it fails when CI=true.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (apt-get install -y %s): CI must run this check", name, pkg)
	}
	t.Logf("SKIPPED the check with %s: %v (apt-get install -y %s)", name, err, pkg)
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceOnce replaces old, which must occur once in s: the check notices
// when the page's file changes under it.
func replaceOnce(t *testing.T, s, old, repl string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(s, old, repl, 1)
}

// Once the rooms have history (step 6 on), a join's reply also has the
// room's position, and a room's message its room and position.
var (
	posMember  = regexp.MustCompile(`,"pos":\{"epoch":"[0-9a-f]+","offset":[0-9]+\}`)
	roomMember = regexp.MustCompile(`\},"room":"[^"]*"\}$`)
)

// withoutPos returns msg without the members a room with history adds.
func withoutPos(msg string) string {
	return roomMember.ReplaceAllString(posMember.ReplaceAllString(msg, ""), "}}")
}
