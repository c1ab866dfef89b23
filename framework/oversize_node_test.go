package framework_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// nodeOversizeScript connects to the URL in argv[2], sends one binary
// message of argv[3] bytes and prints the code of the close event (1006
// when the close frame was lost to a reset).
const nodeOversizeScript = `
const ws = new WebSocket(process.argv[2]);
const size = Number(process.argv[3]);
const timer = setTimeout(() => { console.log("timeout"); process.exit(2); }, 10000);
ws.onopen = () => ws.send(new Uint8Array(size));
ws.onerror = () => {};
ws.onclose = (e) => { clearTimeout(timer); console.log(e.code); };
`

// Node's built-in WebSocket client sends a 16 MB message to a server with
// the default 2 MiB limit: it must see 1009 every time. Node keeps writing
// the message after the server has closed; a server that stops reading
// and closes the socket with the client's data unread sends a reset, and
// the close frame is lost (Node then reports 1006).
func TestOversizeMessageNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not on PATH (CI=true): %v", err)
		}
		t.Skip("node is not on PATH")
	}
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{})) // MaxMessageBytes: 2 MiB
	script := filepath.Join(t.TempDir(), "oversize.js")
	if err := os.WriteFile(script, []byte(nodeOversizeScript), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		tries    = 20
		parallel = 2
		size     = 16_000_000
	)
	codes := make([]string, tries)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range tries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "--experimental-websocket", script,
				"ws://"+srv.Addr+"/echo", fmt.Sprint(size))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			code := strings.TrimSpace(string(out))
			if err != nil {
				code = fmt.Sprintf("%s (%v: %s)", code, err, strings.TrimSpace(stderr.String()))
			}
			codes[i] = code
		})
	}
	wg.Wait()
	want := fmt.Sprint(int(websocket.StatusMessageTooBig))
	bad := 0
	for _, code := range codes {
		if code != want {
			bad++
		}
	}
	t.Logf("close codes seen by node: %v", codes)
	if bad > 0 {
		t.Errorf("%d of %d tries saw another close code than %s: %v", bad, tries, want, codes)
	}
}
