//go:build linux

package framework

import (
	"sync"
	"syscall"
	"time"
)

// An idle connection that has not sent its first message holds no
// goroutine: run parks it here instead of waiting in awaitData, and a new
// goroutine resumes the read loop when its socket becomes readable (data,
// EOF, error), when the idle timeout (Options.ReadTimeout) expires, or
// when the server closes it (wireConn.Close and abort wake it). Exactly
// one of them resumes it: the one that swaps wireConn.parkKey from the
// connection's key to 0 (or, for a close, to parkClosed).
//
// Parked sockets are registered, one-shot, with one epoll set shared by
// every Server in the process, under a key that is never reused (not the
// descriptor, whose number the kernel reuses). The epoll set, a pipe that
// wakes the poller and the poller's goroutine exist only while a
// connection is parked.

var parker struct {
	mu    sync.Mutex
	ep    int // the epoll set, 0 when nothing is parked
	pipe  [2]int
	last  uint64
	conns map[uint64]*Conn
}

// park registers the connection's socket with the poller and reports
// whether it did: the caller's goroutine must then end. It does not park
// (and the caller waits as before) without a RawConn (TLS), once a close
// has started, or with bytes buffered anywhere: awaitData's conditions.
func (c *Conn) park() bool {
	w := c.wire
	if w.raw == nil || c.closing.Load() != nil || !w.rmu.TryLock() {
		return false
	}
	defer w.rmu.Unlock()
	if !w.nothingBuffered() {
		return false
	}
	var wait time.Duration
	if w.readTimeout > 0 {
		if wait = w.readTimeout - w.idleFor(time.Now()); wait <= 0 {
			return false
		}
	}
	p := &parker
	p.mu.Lock()
	if p.ep == 0 && !parkerInit() {
		p.mu.Unlock()
		return false
	}
	p.last++
	key := p.last
	p.conns[key] = c
	ep := p.ep // open while key is in conns
	p.mu.Unlock()
	if !w.parkKey.CompareAndSwap(0, key) { // closed already
		parkerForget(key)
		return false
	}
	added := false
	if w.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(key)), Pad: int32(uint32(key >> 32))}
		added = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(fd), &ev) == nil
	}) != nil || !added {
		if w.parkKey.CompareAndSwap(key, 0) {
			parkerForget(key)
			return false
		}
		return true // a close claimed it: it resumes the connection
	}
	if wait > 0 {
		w.parkTimer.Store(time.AfterFunc(wait, func() { c.wake(key) }))
		if w.parkKey.Load() != key {
			w.stopParkTimer() // resumed already
		}
	}
	return true
}

// wake resumes the connection parked under key, unless something else
// already did.
func (c *Conn) wake(key uint64) {
	if c.wire.parkKey.CompareAndSwap(key, 0) {
		go c.resume(key)
	}
}

// wakeParked is called by wireConn.Close and abort before the socket is
// closed: it resumes a parked connection, and keeps it from parking later.
func (w *wireConn) wakeParked() {
	key := w.parkKey.Swap(parkClosed)
	if key == 0 || key == parkClosed {
		return
	}
	parker.mu.Lock()
	c := parker.conns[key]
	parker.mu.Unlock()
	go c.resume(key)
}

// unpark takes the resumed connection out of the poller while its
// socket is open (Control fails once it is closed, and closing it removed
// it from the epoll set).
func (w *wireConn) unpark(key uint64) {
	w.stopParkTimer()
	parker.mu.Lock()
	ep := parker.ep // open while key is in conns
	parker.mu.Unlock()
	_ = w.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	parkerForget(key)
}

func (w *wireConn) stopParkTimer() {
	if t := w.parkTimer.Swap(nil); t != nil {
		t.Stop()
	}
}

// parkerForget removes key from the poller, and ends the poller's
// goroutine when nothing is parked.
func parkerForget(key uint64) {
	p := &parker
	p.mu.Lock()
	delete(p.conns, key)
	if len(p.conns) == 0 {
		_, _ = syscall.Write(p.pipe[1], []byte{0})
	}
	p.mu.Unlock()
}

// parkerInit makes the epoll set and the pipe that wakes its goroutine,
// and starts the goroutine. parker.mu is held.
func parkerInit() bool {
	p := &parker
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := syscall.Pipe2(p.pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(ep)
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // key 0
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, p.pipe[0], &ev); err != nil {
		syscall.Close(ep)
		syscall.Close(p.pipe[0])
		syscall.Close(p.pipe[1])
		return false
	}
	p.ep, p.conns = ep, make(map[uint64]*Conn)
	go parkerLoop(ep, p.pipe[0])
	return true
}

// parkerLoop is the poller's goroutine: it resumes the connections whose
// sockets became readable, and ends when nothing is parked, closing the
// epoll set and the pipe.
func parkerLoop(ep, wake int) {
	p := &parker
	var evs [128]syscall.EpollEvent
	var drain [64]byte
	for {
		n, err := syscall.EpollWait(ep, evs[:], -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range evs[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if key == 0 {
				for {
					if k, _ := syscall.Read(wake, drain[:]); k <= 0 {
						break
					}
				}
				p.mu.Lock()
				if len(p.conns) == 0 {
					_ = syscall.Close(ep)
					_ = syscall.Close(p.pipe[0])
					_ = syscall.Close(p.pipe[1])
					p.ep, p.conns = 0, nil
					p.mu.Unlock()
					return
				}
				p.mu.Unlock()
				continue
			}
			p.mu.Lock()
			c := p.conns[key]
			p.mu.Unlock()
			if c != nil {
				c.wake(key)
			}
		}
	}
}
