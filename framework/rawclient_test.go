package framework_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// This file holds a small raw WebSocket client for tests: it writes any
// frame (masked or not, any opcode, RSV bits, FIN, announced length) and
// reads the server's frames as bytes, so that protocol violations can be
// sent and the exact close frame seen. Every operation is bounded by
// rawTimeout.

const rawTimeout = 5 * time.Second

// WebSocket opcodes.
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xa
)

// rawFrame is one WebSocket frame.
type rawFrame struct {
	fin     bool
	rsv     byte // the RSV1..3 bits, already shifted (0x40, 0x20, 0x10)
	op      byte
	payload []byte
}

// rawConn is a raw WebSocket client connection.
type rawConn struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// wsKey returns a fresh Sec-WebSocket-Key.
func wsKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// upgradeRequest returns a valid handshake request for path on addr, with
// extra header lines ("Name: value") appended.
func upgradeRequest(addr, path string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, addr)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", wsKey())
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// rawRequest connects to addr, sends req as is and returns the response and
// the connection (closed at cleanup).
func rawRequest(t testing.TB, addr, req string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(rawTimeout))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp, nc, br
}

// dialRaw upgrades a raw connection to path with extra header lines and
// fails the test unless the server answers 101.
func dialRaw(t testing.TB, addr, path string, extra ...string) *rawConn {
	t.Helper()
	resp, nc, br := rawRequest(t, addr, upgradeRequest(addr, path, extra...))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Fatalf("handshake %s: got status %d %q, want 101", path, resp.StatusCode, body)
	}
	_ = nc.SetDeadline(time.Time{})
	return &rawConn{t: t, nc: nc, br: br, resp: resp}
}

// frameHeader encodes a frame header announcing length payload bytes,
// masked with key when key is not nil.
func frameHeader(fin bool, rsv, op byte, length int64, key []byte) []byte {
	b0 := rsv | op&0x0f
	if fin {
		b0 |= 0x80
	}
	var mask byte
	if key != nil {
		mask = 0x80
	}
	h := []byte{b0, 0}
	switch {
	case length >= 0 && length < 126:
		h[1] = mask | byte(length)
	case length >= 0 && length <= 0xffff:
		h[1] = mask | 126
		h = binary.BigEndian.AppendUint16(h, uint16(length))
	default:
		h[1] = mask | 127
		h = binary.BigEndian.AppendUint64(h, uint64(length))
	}
	return append(h, key...)
}

// encodeFrame encodes f, masked as a client must unless unmasked is set.
func encodeFrame(f rawFrame, unmasked bool) []byte {
	var key []byte
	if !unmasked {
		key = make([]byte, 4)
		_, _ = rand.Read(key)
	}
	b := frameHeader(f.fin, f.rsv, f.op, int64(len(f.payload)), key)
	start := len(b)
	b = append(b, f.payload...)
	for i := range f.payload {
		if key != nil {
			b[start+i] ^= key[i%4]
		}
	}
	return b
}

// write sends bytes as they are.
func (c *rawConn) write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

// writeFrames sends masked frames in one write.
func (c *rawConn) writeFrames(fs ...rawFrame) {
	c.t.Helper()
	var b []byte
	for _, f := range fs {
		b = append(b, encodeFrame(f, false)...)
	}
	c.write(b)
}

// send sends a whole message in one masked frame.
func (c *rawConn) send(op byte, payload []byte) {
	c.t.Helper()
	c.writeFrames(rawFrame{fin: true, op: op, payload: payload})
}

// readFrame reads the next frame from the server, which must not be masked.
func (c *rawConn) readFrame() (rawFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return f, err
		}
		n = int64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return f, err
		}
		n = int64(binary.BigEndian.Uint64(ext[:]))
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.payload)
	return f, err
}

// readMessage reads the next data message, reassembling fragments and
// answering pings on the way.
func (c *rawConn) readMessage() (byte, []byte) {
	c.t.Helper()
	var op byte
	var msg []byte
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("raw read: %v", err)
		}
		switch f.op {
		case opPing:
			c.send(opPong, f.payload)
			continue
		case opPong:
			continue
		case opClose:
			code, reason := parseClose(f.payload)
			c.t.Fatalf("raw read: got close %d %q, want a message", code, reason)
		case opCont:
		default:
			op = f.op
		}
		msg = append(msg, f.payload...)
		if f.fin {
			return op, msg
		}
	}
}

// expectMessage fails the test unless the next message is op with payload want.
func (c *rawConn) expectMessage(op byte, want []byte) {
	c.t.Helper()
	gotOp, got := c.readMessage()
	if gotOp != op || !bytes.Equal(got, want) {
		c.t.Fatalf("got message op %d %q, want op %d %q", gotOp, clip(got), op, clip(want))
	}
}

func clip(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// parseClose returns the code and reason of a close payload (1005 when empty).
func parseClose(p []byte) (websocket.StatusCode, []byte) {
	if len(p) < 2 {
		return websocket.StatusNoStatusRcvd, nil
	}
	return websocket.StatusCode(binary.BigEndian.Uint16(p)), p[2:]
}

// readClose skips data and control frames until the server's close frame,
// answers it, checks that the server then closes the TCP connection, and
// returns the code and reason. It fails the test when the connection ends
// without a close frame.
func (c *rawConn) readClose() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("raw read: got %v, want a close frame", err)
		}
		if f.op != opClose {
			continue
		}
		code, reason := parseClose(f.payload)
		if code != websocket.StatusNoStatusRcvd {
			echo := binary.BigEndian.AppendUint16(nil, uint16(code))
			_, _ = c.nc.Write(encodeFrame(rawFrame{fin: true, op: opClose, payload: echo}, false))
		}
		c.expectEOF()
		return code, string(reason)
	}
}

// expectClose fails the test unless the server closes with code.
func (c *rawConn) expectClose(code websocket.StatusCode) string {
	c.t.Helper()
	got, reason := c.readClose()
	if got != code {
		c.t.Fatalf("got close %v %q, want %v", got, reason, code)
	}
	return reason
}

// expectEOF fails the test unless the server closes the connection (after
// at most what it still had to send) within rawTimeout.
func (c *rawConn) expectEOF() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(rawTimeout))
	n, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("server did not close the TCP connection within %v (read %d more bytes)", rawTimeout, n)
	}
	_ = c.nc.Close() // as a client does once the server has closed
}

// closeNormally runs the close handshake from the client side with 1000.
func (c *rawConn) closeNormally() {
	c.t.Helper()
	c.send(opClose, binary.BigEndian.AppendUint16(nil, 1000))
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("raw read: got %v, want the close echo", err)
		}
		if f.op == opClose {
			if code, _ := parseClose(f.payload); code != 1000 {
				c.t.Fatalf("close echo: got %v, want 1000", code)
			}
			c.expectEOF()
			return
		}
	}
}

// closePayload encodes a close frame payload.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// bufioReader wraps r for http.ReadResponse.
func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// isConnEnd reports whether err means the peer closed or reset the
// connection.
func isConnEnd(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}
