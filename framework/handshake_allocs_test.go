package framework_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
)

// TestHandshakeAllocs reports the allocations of one handshake and close,
// as BenchmarkHandshake makes them (the raw client in this process counts
// too, about 20 of them), so that a change to the handshake path shows
// what it costs: each allocation is also garbage that every idle
// connection's share of the heap grows by until a GC. The count is an
// average over connections that end on the server's goroutines, partly
// after the client is done, so the bound has room; it fails when the
// client's close frame goes through coder/websocket's close handling
// again (about 170) instead of readframe.go's (about 130).
func TestHandshakeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a few hundred connections")
	}
	bp := framework.NewBlueprint("", framework.Route[echoHandler]("/echo"))
	srv := wstest.NewServerOptions(t, framework.Options{Logger: slog.New(slog.DiscardHandler)}, bp)
	req := upgradeRequest(srv.Addr, "/echo")
	closeFrame := []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}
	buf := make([]byte, 256)
	br := bufio.NewReaderSize(nil, 256)
	handshake := func() {
		nc, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		br.Reset(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		if _, err := nc.Write(closeFrame); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := br.Read(buf); err != nil {
				break
			}
		}
	}
	handshake() // the server's pools and the listener's first accept
	n := testing.AllocsPerRun(200, handshake)
	t.Logf("%.1f allocations per handshake and close (server and client)", n)
	if n > 150 {
		t.Errorf("%.1f allocations per handshake, want at most 150", n)
	}
}
