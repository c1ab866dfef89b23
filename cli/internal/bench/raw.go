package bench

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"time"
)

// This file holds the minimal client that --idle and --handshakes use: a
// TCP dial, one handshake request written at once, the response read into a
// small stack buffer and checked (101 and Sec-WebSocket-Accept). No
// net/http client, no bufio, no goroutine: for these two modes the cost of
// the client is the handshake itself, so it must stay far below the
// server's.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// target is a parsed ws:// URL.
type target struct {
	addr string // host:port to dial
	host string // Host header
	path string // request URI
}

func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("bench: bad URL %q: %w", raw, err)
	}
	port := u.Port()
	switch u.Scheme {
	case "ws", "http":
		if port == "" {
			port = "80"
		}
	case "wss", "https":
		return target{}, fmt.Errorf("bench: %s: wss is not supported: benchmark the server behind TLS termination with ws://", raw)
	default:
		return target{}, fmt.Errorf("bench: %s: URL scheme must be ws://", raw)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("bench: %s: URL has no host", raw)
	}
	path := u.RequestURI()
	return target{addr: net.JoinHostPort(u.Hostname(), port), host: u.Host, path: path}, nil
}

// rawDial opens a WebSocket connection with a hand-written handshake and
// returns the socket, positioned after the response headers.
func rawDial(ctx context.Context, d *net.Dialer, t target, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if err := rawHandshake(nc, t, timeout); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

var errBadHandshake = errors.New("bench: handshake refused")

func rawHandshake(nc net.Conn, t target, timeout time.Duration) error {
	var keyRaw [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			keyRaw[i+j] = byte(v >> (8 * j))
		}
	}
	var key [24]byte
	base64.StdEncoding.Encode(key[:], keyRaw[:])

	var req [512]byte
	b := append(req[:0], "GET "...)
	b = append(b, t.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	b = append(b, key[:]...)
	b = append(b, "\r\n\r\n"...)

	_ = nc.SetDeadline(time.Now().Add(timeout))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(b); err != nil {
		return err
	}
	// Read the response headers. Servers send nothing after them until the
	// client speaks, so reading up to the blank line never eats a frame.
	var resp [1024]byte
	n := 0
	for {
		if n == len(resp) {
			return fmt.Errorf("%w: response headers over %d bytes", errBadHandshake, len(resp))
		}
		m, err := nc.Read(resp[n:])
		n += m
		if bytes.Contains(resp[max(0, n-m-3):n], []byte("\r\n\r\n")) {
			break
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	head := resp[:n]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return fmt.Errorf("%w: %s", errBadHandshake, line)
	}
	h := sha1.New()
	h.Write(key[:])
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], h.Sum(sum[:0]))
	if !containsFold(head, "sec-websocket-accept: ", accept[:]) {
		return fmt.Errorf("%w: wrong or missing Sec-WebSocket-Accept", errBadHandshake)
	}
	return nil
}

// containsFold reports whether head has a header line name+value, with the
// name in any case.
func containsFold(head []byte, name string, value []byte) bool {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return bytes.Equal(bytes.TrimSpace(line[len(name):]), value)
		}
	}
	return false
}

// closeFrame is a masked client close frame with status 1000 (mask key 0,
// which RFC 6455 allows: the payload goes out as is).
var closeFrame = []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}

// rawClose runs the client side of the close handshake: it sends a close
// frame, reads until the server has answered and closed (EOF), bounded by
// timeout, then closes the socket. It reports whether the server answered
// with a close frame (how the server ends the TCP connection afterwards,
// FIN or reset, is not judged).
func rawClose(nc net.Conn, timeout time.Duration) bool {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write(closeFrame); err != nil {
		return false
	}
	var buf [256]byte
	sawClose := false
	first := true
	for range 64 { // a server sends at most a close frame; bounded anyway
		n, err := nc.Read(buf[:])
		if first && n > 0 {
			sawClose = buf[0]&0x0f == 0x8
			first = false
		}
		if err != nil {
			return sawClose
		}
	}
	return sawClose
}
