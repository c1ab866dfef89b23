//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The sockets of this client are raw descriptors, never net.Conns: the Go
// runtime does not poll them, so a read wakes only the reader's own
// epoll_wait (a descriptor from TCPConn.File shares its open file with the
// runtime's, whose netpoller would wake on every message too).

// A fixed key is fine for a benchmark: the server only hashes it.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// rawDial connects to addr, runs the opening handshake for path and
// returns a blocking descriptor and the bytes read past the response
// headers.
func rawDial(addr netip.AddrPort, host, path string, timeout time.Duration) (int, []byte, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = unix.Close(fd)
		}
	}()
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := connect(fd, addr, timeout); err != nil {
		return -1, nil, fmt.Errorf("connect: %w", err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return -1, nil, fmt.Errorf("handshake write: %w", err)
	}
	var resp [2048]byte
	n := 0
	for {
		if n == len(resp) {
			return -1, nil, errors.New("handshake: response headers too long")
		}
		m, err := unix.Read(fd, resp[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, nil, fmt.Errorf("handshake read: %w", err)
		}
		if m == 0 {
			return -1, nil, errors.New("handshake: connection closed")
		}
		n += m
		if i := bytes.Index(resp[:n], []byte("\r\n\r\n")); i >= 0 {
			head := resp[:i]
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
				line, _, _ := bytes.Cut(head, []byte("\r\n"))
				return -1, nil, fmt.Errorf("handshake refused: %s", line)
			}
			if !bytes.Contains(bytes.ToLower(head), []byte("sec-websocket-accept: "+string(bytes.ToLower([]byte(wsAccept))))) {
				return -1, nil, errors.New("handshake: wrong Sec-WebSocket-Accept")
			}
			ok = true
			return fd, append([]byte(nil), resp[i+4:n]...), nil
		}
	}
}

// connect connects fd without blocking in connect(2), which the Go
// runtime's preemption signals would interrupt (EINTR, not restarted),
// then makes fd blocking again.
func connect(fd int, addr netip.AddrPort, timeout time.Duration) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()})
	if err == unix.EINPROGRESS || err == unix.EINTR {
		deadline := time.Now().Add(timeout)
		for {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			n, perr := unix.Poll(pfd, int(max(time.Until(deadline), time.Millisecond)/time.Millisecond))
			if perr == unix.EINTR {
				continue
			}
			if perr != nil {
				return perr
			}
			if n == 0 {
				return unix.ETIMEDOUT
			}
			break
		}
		soErr, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if gerr != nil {
			return gerr
		}
		err = nil
		if soErr != 0 {
			err = unix.Errno(soErr)
		}
	}
	if err != nil {
		return err
	}
	return unix.SetNonblock(fd, false)
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue // EAGAIN: only for the tiny pongs on nonblocking sockets
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// clientFrame returns a masked client frame (mask key 0, which RFC 6455
// allows: the payload goes out as is).
func clientFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

// Payload layout: sequence number (little endian; probeBit set for the
// probes that check the members have joined), send time in Unix
// nanoseconds, then filler up to the message size.
const (
	headerLen = 16
	probeBit  = uint64(1) << 63
)

// member is one subscribed connection, owned by one reader.
type member struct {
	fd      int
	pending []byte   // an incomplete frame from the last read
	seen    []uint64 // bitmap of the sequence numbers received
	joined  bool
	dead    bool
	node    int  // the index of its server in the URLs
	dying   bool // its server is to be killed (-dying): a close is expected
	// delivered and dup count its deliveries and duplicates.
	delivered, dup int64
}

// stats is what one reader counts; its own, merged at the end.
type stats struct {
	delivered, dup, bad, closed, pings int64
	firstErr                           string
	lat                                histogram
}

func (s *stats) fail(format string, args ...any) {
	s.bad++
	if s.firstErr == "" {
		s.firstErr = fmt.Sprintf(format, args...)
	}
}

// shared is what the readers and the publisher share.
type shared struct {
	size     int
	maxSeq   uint64
	counts   []atomic.Int32 // deliveries of each sequence number (to members not dying)
	joined   atomic.Int64
	lastRecv atomic.Int64 // Unix ns of the last delivery
	stop     atomic.Bool
}

// reader owns some members and one epoll instance.
type reader struct {
	ep      int
	members []*member
	sh      *shared
	st      stats
	buf     []byte
}

func newReader(sh *shared) (*reader, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &reader{ep: ep, sh: sh, buf: make([]byte, 256<<10)}, nil
}

// add makes fd, a member of the node'th server, nonblocking and watches
// it.
func (r *reader) add(fd int, leftover []byte, node int, dying bool) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	m := &member{fd: fd, pending: leftover, seen: make([]uint64, (r.sh.maxSeq+63)/64), node: node, dying: dying}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(len(r.members))}
	r.members = append(r.members, m)
	return unix.EpollCtl(r.ep, unix.EPOLL_CTL_ADD, fd, &ev)
}

// run reads until sh.stop, on a thread of its own.
func (r *reader) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 512)
	for !r.sh.stop.Load() {
		n, err := unix.EpollWait(r.ep, events, 50)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.st.fail("epoll_wait: %v", err)
			return
		}
		for _, ev := range events[:n] {
			r.readMember(r.members[ev.Fd])
		}
	}
}

// readMember does one read (level-triggered epoll brings it back if more
// is waiting) and handles the whole frames it completes.
func (r *reader) readMember(m *member) {
	if m.dead {
		return
	}
	off := copy(r.buf, m.pending)
	if off == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	n, err := unix.Read(m.fd, r.buf[off:])
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil || n == 0 {
		r.kill(m, fmt.Sprintf("connection closed by the server (%v)", err))
		return
	}
	now := time.Now().UnixNano()
	rest := r.parse(m, r.buf[:off+n], now)
	m.pending = append(m.pending[:0], rest...)
	if cap(m.pending) > 64<<10 && len(m.pending) < 1<<10 {
		m.pending = append([]byte(nil), m.pending...) // do not pin a burst's buffer
	}
}

func (r *reader) kill(m *member, why string) {
	m.dead = true
	if m.dying {
		_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, m.fd, nil)
		return // expected: counted per node
	}
	r.st.closed++
	if r.st.firstErr == "" {
		r.st.firstErr = why
	}
	_ = unix.EpollCtl(r.ep, unix.EPOLL_CTL_DEL, m.fd, nil)
}

// parse handles the whole server frames at the start of b and returns the
// rest.
func (r *reader) parse(m *member, b []byte, now int64) []byte {
	for {
		if len(b) < 2 {
			return b
		}
		fin, opcode, masked := b[0]&0x80 != 0, b[0]&0x0f, b[1]&0x80 != 0
		hl, n := 2, uint64(b[1]&0x7f)
		switch n {
		case 126:
			if len(b) < 4 {
				return b
			}
			hl, n = 4, uint64(binary.BigEndian.Uint16(b[2:]))
		case 127:
			if len(b) < 10 {
				return b
			}
			hl, n = 10, binary.BigEndian.Uint64(b[2:])
		}
		if masked || n > 1<<30 {
			r.kill(m, "bad frame from the server")
			return nil
		}
		if uint64(len(b)-hl) < n {
			return b
		}
		payload := b[hl : hl+int(n)]
		b = b[hl+int(n):]
		switch {
		case opcode == 0x9: // ping
			r.st.pings++
			_ = writeAll(m.fd, clientFrame(0xA, payload))
		case opcode == 0xA: // pong
		case opcode == 0x8:
			code := 0
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			r.kill(m, fmt.Sprintf("server closed a member: %d %s", code, payload[min(2, len(payload)):]))
			return nil
		case !fin || opcode == 0:
			r.st.fail("fragmented message (opcode %d, fin %v)", opcode, fin)
		default:
			r.message(m, payload, now)
		}
	}
}

func (r *reader) message(m *member, p []byte, now int64) {
	if len(p) != r.sh.size || len(p) < headerLen {
		r.st.fail("message of %d bytes, want %d", len(p), r.sh.size)
		return
	}
	seq := binary.LittleEndian.Uint64(p)
	if seq&probeBit != 0 {
		if !m.joined {
			m.joined = true
			r.sh.joined.Add(1)
		}
		return
	}
	if seq >= r.sh.maxSeq {
		r.st.fail("sequence number %d out of range", seq)
		return
	}
	w, bit := seq/64, uint64(1)<<(seq%64)
	if m.seen[w]&bit != 0 {
		m.dup++
		if !m.dying {
			r.st.dup++
		}
		return
	}
	m.seen[w] |= bit
	m.delivered++
	r.st.delivered++
	if !m.dying {
		r.sh.counts[seq].Add(1)
	}
	r.sh.lastRecv.Store(now)
	r.st.lat.record(now - int64(binary.LittleEndian.Uint64(p[8:])))
}

// lost returns how many of the first sent sequence numbers m never got.
func (m *member) lost(sent uint64) int64 {
	var got int
	for i := uint64(0); i < sent/64; i++ {
		got += bits.OnesCount64(m.seen[i])
	}
	if r := sent % 64; r != 0 {
		got += bits.OnesCount64(m.seen[sent/64] & (uint64(1)<<r - 1))
	}
	return int64(sent) - int64(got)
}
