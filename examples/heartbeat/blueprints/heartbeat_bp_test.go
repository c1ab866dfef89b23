package blueprints_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/heartbeat/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind, such as a
// watchdog that outlived its connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// heartbeat is the blueprint as main makes it, with the default window and
// the handlers' logs in t.Log.
func heartbeat(t *testing.T) *framework.Blueprint {
	return blueprints.Heartbeat(&blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
}

// keepAlive pings quiet connections every 100 ms and wants the pong within
// 100 ms.
var keepAlive = framework.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond}

func TestKeepAliveClosesSilentClient(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServerOptions(t, keepAlive, heartbeat(t))
	c := dialRaw(t, srv.Addr, "/heartbeat/keepalive")
	if op, _ := c.readFrame(); op != opPing {
		t.Fatalf("got opcode %#x, want a ping", op)
	}
	// The client does not answer: the server gives up after PongTimeout.
	op, payload := c.readFrame()
	if op != opClose {
		t.Fatalf("got opcode %#x, want a close frame", op)
	}
	if code := closeCode(payload); code != websocket.StatusGoingAway {
		t.Fatalf("got close %v %q, want 1001", code, payload[2:])
	}
}

func TestKeepAliveKeepsAnsweringClient(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServerOptions(t, keepAlive, heartbeat(t))
	c := dialRaw(t, srv.Addr, "/heartbeat/keepalive")
	for i := range 3 { // three pings answered: three intervals survived
		op, payload := c.readFrame()
		if op != opPing {
			t.Fatalf("frame %d: got opcode %#x, want a ping", i, op)
		}
		c.writeFrame(opPong, payload)
	}
	c.writeFrame(opText, []byte("still here"))
	for {
		op, payload := c.readFrame()
		switch op {
		case opPing:
			c.writeFrame(opPong, payload)
			continue
		case opText:
			if string(payload) != "still here" {
				t.Fatalf("got text %q, want the echo", payload)
			}
			return
		default:
			t.Fatalf("got opcode %#x %q, want the echo", op, payload)
		}
	}
}

func TestManualClosesSilentClient(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, heartbeat(t))
	c := srv.Dial(t, "/heartbeat/manual?timeout=200ms")
	c.ExpectText("send ping at least every 200ms")
	if reason := c.ExpectClose(websocket.StatusGoingAway); reason != "heartbeat timeout" {
		t.Fatalf("got reason %q, want %q", reason, "heartbeat timeout")
	}
}

func TestManualKeepsPingingClient(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, heartbeat(t))
	c := srv.Dial(t, "/heartbeat/manual?timeout=300ms")
	c.ExpectText("send ping at least every 300ms")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range 8 { // 800 ms, well past the 300 ms window
		c.SendText("ping")
		c.ExpectText("pong")
		<-tick.C
	}
	c.SendText("hello")
	c.ExpectText("hello")
	c.Close()
}

func TestManualRejectsBadWindow(t *testing.T) {
	t.Parallel()
	srv := wstest.NewServer(t, heartbeat(t))
	for _, q := range []string{"1h", "31s", "1ms", "soon"} {
		c := srv.Dial(t, "/heartbeat/manual?timeout="+q)
		c.ExpectClose(websocket.StatusPolicyViolation)
	}
	c := srv.Dial(t, "/heartbeat/manual")
	c.ExpectText("send ping at least every 30s") // the default window
	c.Close()
}

// TestManualWindowFromFlag sets the window with --heartbeat-window, as
// main does: it is the window of a client that asks for none, and the
// longest one a client may ask for.
func TestManualWindowFromFlag(t *testing.T) {
	t.Parallel()
	deps := &blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	fs := flag.NewFlagSet("heartbeat", flag.ContinueOnError)
	deps.BindFlags(fs)
	if err := fs.Parse([]string{"--heartbeat-window", "300ms"}); err != nil {
		t.Fatal(err)
	}
	srv := wstest.NewServer(t, blueprints.All(deps)...)

	c := srv.Dial(t, "/heartbeat/manual")
	c.ExpectText("send ping at least every 300ms")
	if reason := c.ExpectClose(websocket.StatusGoingAway); reason != "heartbeat timeout" {
		t.Fatalf("got reason %q, want %q", reason, "heartbeat timeout")
	}
	shorter := srv.Dial(t, "/heartbeat/manual?timeout=200ms")
	shorter.ExpectText("send ping at least every 200ms")
	shorter.Close()
	longer := srv.Dial(t, "/heartbeat/manual?timeout=1s")
	if reason := longer.ExpectClose(websocket.StatusPolicyViolation); reason != "timeout must be a duration from 100ms to 300ms" {
		t.Fatalf("got reason %q, want the allowed range", reason)
	}
}

// A raw client: it speaks WebSocket by hand so that it can stay silent
// when pinged (coder/websocket's client answers pings by itself).

const (
	opText  byte = 0x1
	opClose byte = 0x8
	opPing  byte = 0x9
	opPong  byte = 0xa
)

type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr, path string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got HTTP %d, want 101", resp.StatusCode)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// readFrame reads one unfragmented server frame.
func (c *rawClient) readFrame() (op byte, payload []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, _ = io.ReadFull(c.br, ext[:])
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		_, _ = io.ReadFull(c.br, ext[:])
		n = binary.BigEndian.Uint64(ext[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// writeFrame writes one masked frame with FIN set (payload < 126 bytes).
func (c *rawClient) writeFrame(op byte, payload []byte) {
	c.t.Helper()
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

func closeCode(payload []byte) websocket.StatusCode {
	if len(payload) < 2 {
		return 0
	}
	return websocket.StatusCode(binary.BigEndian.Uint16(payload))
}
