//go:build linux

package framework

import (
	"sync"
	"syscall"
	"time"
)

// A connection that has sent nothing for parkAfter since its upgrade
// holds no goroutine: serve parks it here instead of waiting on in
// awaitData, and a new goroutine resumes the read loop when its socket
// becomes readable (data, EOF, error), when its idle timeout
// (Options.ReadTimeout) expires, or when the server closes it
// (wireConn.Close and abort wake it). Exactly one of them resumes it: the
// one that swaps wireConn.parkKey from the connection's key to 0 (or, for
// a close, to parkClosed).
//
// Parked sockets are registered, one-shot, with one epoll set shared by
// every Server in the process, under a key that is never reused (not the
// descriptor, whose number the kernel reuses). The poller also keeps the
// parked connections' idle deadlines, in a heap: a timer each would cost
// more than the rest of the parking saves. The epoll set, a pipe that
// wakes the poller and the poller's goroutine exist only while a
// connection is parked.

// parkAfter is how long a new connection waits in awaitData before it is
// parked. Parking costs two epoll_ctl calls and a wake of the poller's
// goroutine (a fifth of a handshake's CPU when every connection parked);
// clients that send, or close, within parkAfter never pay it. It is
// short, so that few goroutines wait at once while idle connections pour
// in, and their stacks, reused, hold little memory.
const parkAfter = 50 * time.Millisecond

var parker struct {
	mu    sync.Mutex
	ep    int // the epoll set, 0 when nothing is parked
	pipe  [2]int
	last  uint64
	conns map[uint64]*Conn
	idle  idleHeap
}

// parkDeadline is a parked connection's idle deadline, in parkClock time.
type parkDeadline struct {
	at int64
	c  *Conn
}

var parkEpoch = time.Now()

// parkClock returns the monotonic time since parkEpoch, in ns.
func parkClock() int64 { return int64(time.Since(parkEpoch)) }

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
	wait, timed := w.idleLeft(time.Now())
	if timed && wait <= 0 {
		return false
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
		p.mu.Lock()
		if w.parkKey.Load() == key { // not resumed already
			p.idle.push(parkDeadline{at: parkClock() + int64(wait), c: c})
			if w.parkIdx == 1 {
				_, _ = syscall.Write(p.pipe[1], []byte{0}) // an earlier deadline
			}
		}
		p.mu.Unlock()
	}
	return true
}

// parksSoFar returns how many connections have been parked (the keys
// handed out), for the tests.
func parksSoFar() uint64 {
	parker.mu.Lock()
	defer parker.mu.Unlock()
	return parker.last
}

// wake resumes the connection parked under key, unless something else
// already did.
func (c *Conn) wake(key uint64) {
	if c.wire.parkKey.CompareAndSwap(key, 0) {
		go c.resume(key)
	}
}

// wakeParked is called by wireConn.Close and abort before the socket is
// closed: it takes a parked connection out of the poller (while its
// descriptor is open) and resumes it, and keeps it from parking later.
func (w *wireConn) wakeParked() {
	key := w.parkKey.Swap(parkClosed)
	if key == 0 || key == parkClosed {
		return
	}
	parker.mu.Lock()
	c := parker.conns[key]
	parker.mu.Unlock()
	w.unpark(key)
	go c.serve(CloseStatus{}, true)
}

// unpark takes the resumed connection out of the poller while its
// socket is open (Control fails once it is closed, and closing it removed
// it from the epoll set).
func (w *wireConn) unpark(key uint64) {
	parker.mu.Lock()
	ep := parker.ep // open while key is in conns
	if w.parkIdx > 0 {
		parker.idle.remove(w.parkIdx - 1)
	}
	parker.mu.Unlock()
	_ = w.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	parkerForget(key)
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
	p.ep, p.conns, p.idle = ep, make(map[uint64]*Conn), nil
	go parkerLoop(ep, p.pipe[0])
	return true
}

// parkerLoop is the poller's goroutine: it resumes the connections whose
// sockets became readable or whose idle deadline has passed, and ends
// when nothing is parked, closing the epoll set and the pipe.
func parkerLoop(ep, wake int) {
	p := &parker
	var evs [128]syscall.EpollEvent
	var drain [64]byte
	var due []*Conn
	for {
		timeout := -1
		p.mu.Lock()
		for now := parkClock(); len(p.idle) > 0; {
			if d := p.idle[0].at - now; d > 0 {
				timeout = int((min(d, int64(time.Hour)) + int64(time.Millisecond) - 1) / int64(time.Millisecond))
				break
			}
			due = append(due, p.idle[0].c)
			p.idle.remove(0)
		}
		p.mu.Unlock()
		for i, c := range due {
			if key := c.wire.parkKey.Load(); key != 0 && key != parkClosed {
				c.wake(key)
			}
			due[i] = nil
		}
		due = due[:0]
		n, err := syscall.EpollWait(ep, evs[:], timeout)
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
					p.ep, p.conns, p.idle = 0, nil, nil
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

// idleHeap holds idle deadlines, earliest first, and keeps each
// connection's wireConn.parkIdx. parker.mu is held.
type idleHeap []parkDeadline

func (h *idleHeap) push(d parkDeadline) {
	*h = append(*h, d)
	h.up(len(*h) - 1)
}

// remove removes the i-th deadline.
func (h *idleHeap) remove(i int) {
	s := *h
	last := len(s) - 1
	s[i].c.wire.parkIdx = 0
	if i != last {
		s[i] = s[last]
		s[i].c.wire.parkIdx = i + 1
	}
	s[last] = parkDeadline{}
	*h = s[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h idleHeap) up(i int) {
	for i > 0 {
		up := (i - 1) / 2
		if h[up].at <= h[i].at {
			break
		}
		h.swap(i, up)
		i = up
	}
	h[i].c.wire.parkIdx = i + 1
}

func (h idleHeap) down(i int) {
	for {
		least := i
		for _, k := range [2]int{2*i + 1, 2*i + 2} {
			if k < len(h) && h[k].at < h[least].at {
				least = k
			}
		}
		if least == i {
			break
		}
		h.swap(i, least)
		i = least
	}
	h[i].c.wire.parkIdx = i + 1
}

func (h idleHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].c.wire.parkIdx = i + 1
	h[j].c.wire.parkIdx = j + 1
}
