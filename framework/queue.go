package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// This file holds the send queue of a connection: what broadcasts go
// through so that a slow client never stalls the others. A connection that
// is never broadcast to has no queue; a queue has a writer goroutine only
// while it holds messages (started by the first one, gone when it drains),
// so an idle connection costs no goroutine and no timer.
//
// QueueBlock has two ways to wait for room. A Broadcast of this node
// waits in its caller (offerWait), after every other member has its copy:
// the caller asked for it, and ctx bounds it. A broadcast from the broker
// must not wait: its goroutine is the broker's subscription, which every
// room of the node shares. So it never blocks, whatever the policy: on a
// full QueueBlock queue it is parked in the queue's overflow (park), and
// the writer moves the overflow into the queue, in order, as it makes
// room (unpark, from makeRoom). Order per connection is kept because
// nothing overtakes the overflow: while it holds anything, a broadcast of
// either kind counts the queue as full (a local one waits until the
// overflow is empty), and a direct send or an in-order close goes to the
// overflow's end (pushInOrder). The overflow is bounded in time, not
// size: when its first message has waited BlockTimeout, one timer closes
// the connection with 1013 as offerWait does, dropping what waits. The
// timer exists only while the overflow holds something.

// QueuePolicy says what a full send queue does with one more broadcast.
type QueuePolicy int

// The send-queue policies. The zero QueuePolicy means the default: the
// server's policy on a route, QueueClose on the server.
const (
	// QueueClose closes the connection with 1013 (CauseSlow), dropping its queue.
	QueueClose QueuePolicy = iota + 1
	// QueueDrop drops the new message (the hub counts it).
	QueueDrop
	// QueueBlock waits up to BlockTimeout for room (a broadcast from the
	// broker waits aside), then closes as QueueClose does.
	QueueBlock
)

// String returns "close", "drop" or "block".
func (p QueuePolicy) String() string {
	switch p {
	case QueueClose:
		return "close"
	case QueueDrop:
		return "drop"
	case QueueBlock:
		return "block"
	}
	return fmt.Sprintf("QueuePolicy(%d)", int(p))
}

// QueueOptions bounds each connection's send queue: what was broadcast to
// it and not yet taken. Set in Options.SendQueue and [RouteSpec.WithQueue];
// zero fields take the server's value, then the defaults below.
type QueueOptions struct {
	// MaxMessages is how many messages may wait. Defaults to 256.
	MaxMessages int
	// MaxBytes is how many bytes may wait (one larger message still fits
	// an empty queue). Defaults to 4 MiB.
	MaxBytes int
	// Policy says what happens to a broadcast that does not fit.
	// Defaults to QueueClose.
	Policy QueuePolicy
	// BlockTimeout is how long QueueBlock waits for room. Defaults to 1 s.
	BlockTimeout time.Duration
}

// Defaults of QueueOptions.
const (
	defaultQueueMessages     = 256
	defaultQueueBytes        = 4 << 20
	defaultQueueBlockTimeout = time.Second
)

func (o QueueOptions) withDefaults(def QueueOptions) QueueOptions {
	setDefault(&o.MaxMessages, def.MaxMessages)
	setDefault(&o.MaxBytes, def.MaxBytes)
	setDefault(&o.Policy, def.Policy)
	setDefault(&o.BlockTimeout, def.BlockTimeout)
	return o
}

// defaultQueue holds the built-in defaults of QueueOptions.
var defaultQueue = QueueOptions{
	MaxMessages:  defaultQueueMessages,
	MaxBytes:     defaultQueueBytes,
	Policy:       QueueClose,
	BlockTimeout: defaultQueueBlockTimeout,
}

// queueStats counts what went through a connection's send queue.
type queueStats struct {
	Queued       uint64 // messages accepted into the queue
	Sent         uint64 // messages the queue wrote to the client
	Dropped      uint64 // messages dropped: by QueueDrop, by an overflow close, or because the connection ended first
	Batches      uint64 // writes of several messages at once (see writeBatch)
	Pending      int    // messages waiting now
	PendingBytes int    // bytes waiting now
}

// sendQueue is a connection's bounded FIFO of messages to write.
type sendQueue struct {
	opts  QueueOptions
	total *hubCounters
	obs   Observer // Options.Observer, told of drops
	route string   // the connection's route pattern, for obs

	mu            sync.Mutex
	items         []queued
	head          int
	bytes         int
	inflight      int           // messages of the batch being written, but its first
	inflightBytes int           // their bytes
	running       bool          // a writer goroutine is draining the queue
	closed        bool          // the queue accepts nothing more
	space         chan struct{} // closed when room is made, for QueueBlock
	over          []parked      // QueueBlock: broker deliveries waiting for room, and what came after them
	overTimer     *time.Timer   // closes the connection when over's first has waited BlockTimeout
	writer        sync.WaitGroup

	queued, sent, dropped atomic.Uint64
	discards              atomic.Uint64 // calls of discard, for a batch in flight
	batches               atomic.Uint64
}

// queued is one entry of a send queue: a message, or a close to run in
// order after the messages before it.
type queued struct {
	typ   websocket.MessageType
	data  []byte     // the payload
	frame []byte     // the whole frame, data after its header (frames.go); nil on a connection coder writes to (permessage-deflate)
	done  chan error // a direct send waiting for its write
	close *CloseStatus
}

// parked is an entry of a send queue's overflow (see park): a broadcast
// from the broker with the time it may wait until, or a direct send or a
// close queued behind such broadcasts (no deadline).
type parked struct {
	it       queued
	deadline time.Time
}

type offerResult int

const (
	offered      offerResult = iota
	offeredStart             // offered to an idle queue: the caller starts its writer (startWriter)
	offerDropped
	offerClosed
	offerFull     // QueueBlock: the caller waits with offerWait
	offerOverflow // closed for overflow: the caller calls logOverflow once it holds no lock
)

// full reports whether a message of n bytes must wait. One message always
// fits in an empty queue.
func (q *sendQueue) full(n int) bool {
	pending := len(q.items) - q.head + q.inflight
	return pending > 0 && (pending >= q.opts.MaxMessages || q.bytes+q.inflightBytes+n > q.opts.MaxBytes)
}

// offer queues it for c without blocking and applies the queue's policy
// when it is full. With QueueBlock, a broadcast from the broker (park) is
// parked in the overflow; the caller of a local one waits with offerWait.
// The overflow is non-empty only with QueueBlock, and then the queue
// counts as full, so that nothing overtakes it.
func (q *sendQueue) offer(c *Conn, it queued, park bool) offerResult {
	return q.offerAs(c, it, park, q.opts.Policy)
}

// offerKeep is offer, parking, for a message c must not miss silently (a
// room with history, to a nows.v1 member): a full QueueDrop queue closes
// c with 1013, as QueueClose does, and c recovers when it comes back.
func (q *sendQueue) offerKeep(c *Conn, it queued) offerResult {
	policy := q.opts.Policy
	if policy == QueueDrop {
		policy = QueueClose
	}
	return q.offerAs(c, it, true, policy)
}

// offerAs is offer with the given policy.
func (q *sendQueue) offerAs(c *Conn, it queued, park bool, policy QueuePolicy) offerResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || c.closing.Load() != nil {
		return offerClosed
	}
	if len(q.over) > 0 || q.full(len(it.data)) {
		switch policy {
		case QueueDrop:
			q.drop(1)
			return offerDropped
		case QueueBlock:
			if park {
				q.park(c, it)
				return offered
			}
			q.blocked()
			return offerFull
		}
		q.drop(1)
		if q.overflow(c) {
			return offerOverflow
		}
		return offerClosed
	}
	if q.add(it) {
		return offeredStart
	}
	return offered
}

// offerWait queues it once there is room, or closes c at deadline.
func (q *sendQueue) offerWait(ctx context.Context, c *Conn, it queued, deadline time.Time) offerResult {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.closed || c.closing.Load() != nil {
			q.mu.Unlock()
			return offerClosed
		}
		if len(q.over) == 0 && !q.full(len(it.data)) {
			started := q.add(it)
			q.mu.Unlock()
			if started {
				c.startWriter(q)
			}
			return offered
		}
		if q.space == nil {
			q.space = make(chan struct{})
		}
		space := q.space
		q.mu.Unlock()
		select {
		case <-space:
		case <-timer.C:
			q.mu.Lock()
			q.drop(1)
			closed := q.overflow(c)
			q.mu.Unlock()
			if closed {
				return offerOverflow
			}
			return offerClosed
		case <-ctx.Done():
			q.mu.Lock()
			q.drop(1)
			q.mu.Unlock()
			return offerDropped
		}
	}
}

// park appends it to the overflow, arming the timer when the overflow was
// empty. The queue is full, so its writer runs and will unpark it. q.mu
// is held.
func (q *sendQueue) park(c *Conn, it queued) {
	if len(q.over) == 0 {
		if q.overTimer == nil {
			q.overTimer = time.AfterFunc(q.opts.BlockTimeout, func() { q.expire(c) })
		} else {
			q.overTimer.Reset(q.opts.BlockTimeout)
		}
	}
	q.over = append(q.over, parked{it: it, deadline: time.Now().Add(q.opts.BlockTimeout)})
	q.blocked()
}

// blocked tells the observer that a message waits for room. q.mu is held.
func (q *sendQueue) blocked() {
	if q.obs != nil {
		q.obs.Observe(Event{Kind: EventBlocked, Route: q.route, Count: 1})
	}
}

// pushInOrder appends a direct send or a close behind the overflow when it
// holds anything, else to the queue (push). q.mu is held.
func (q *sendQueue) pushInOrder(c *Conn, it queued) {
	if len(q.over) > 0 {
		q.over = append(q.over, parked{it: it})
		return
	}
	q.push(c, it)
}

// unpark moves the overflow's first entries into the queue while they fit
// (a direct send or a close always does). A writer runs: the overflow is
// non-empty only behind a full queue, and the writer stops only on an
// empty queue, after unpark. q.mu is held.
func (q *sendQueue) unpark() {
	n := 0
	for ; n < len(q.over); n++ {
		it := q.over[n].it
		if it.done == nil && it.close == nil && q.full(len(it.data)) {
			break
		}
		q.add(it)
	}
	if n == 0 {
		return
	}
	clear(q.over[:n])
	q.over = q.over[n:]
	if len(q.over) == 0 {
		q.dropOver()
	}
}

// dropOver forgets the (emptied) overflow and stops its timer. q.mu is
// held.
func (q *sendQueue) dropOver() {
	q.over = nil
	if q.overTimer != nil {
		q.overTimer.Stop()
	}
}

// expire runs on the overflow's timer: when the overflow's first message
// has waited BlockTimeout, it closes c with 1013 (overflow), else it sets
// the timer for that message's deadline.
func (q *sendQueue) expire(c *Conn) {
	q.mu.Lock()
	if len(q.over) == 0 { // moved into the queue or discarded meanwhile
		q.mu.Unlock()
		return
	}
	if d := time.Until(q.over[0].deadline); d > 0 {
		q.overTimer.Reset(d)
		q.mu.Unlock()
		return
	}
	closed := q.overflow(c)
	q.mu.Unlock()
	if closed {
		q.logOverflow(c)
	}
}

// push appends it and makes sure a writer drains the queue. q.mu is held.
func (q *sendQueue) push(c *Conn, it queued) {
	if q.add(it) {
		go c.writeLoop(q)
	}
}

// add appends it and reports whether the queue was idle: the caller then
// starts its writer, with writeLoop or startWriter. q.mu is held.
func (q *sendQueue) add(it queued) bool {
	q.items = append(q.items, it)
	q.bytes += len(it.data)
	if it.close == nil {
		q.queued.Add(1)
		q.total.queued.Add(1)
	}
	if q.running {
		return false
	}
	q.running = true
	q.writer.Add(1)
	return true
}

// drop counts n dropped messages. q.mu is held.
func (q *sendQueue) drop(n int) {
	q.dropped.Add(uint64(n))
	q.total.dropped.Add(uint64(n))
	if q.obs != nil {
		q.obs.Observe(Event{Kind: EventDropped, Route: q.route, Count: n})
	}
}

// overflow closes c with 1013 after the message being written, dropping
// the ones still queued, and reports whether it started the close (to be
// logged with logOverflow). When a close queued in order (closeInOrder) is
// still waiting, that one is written instead, without the messages before
// it. q.mu is held.
func (q *sendQueue) overflow(c *Conn) bool {
	st := &CloseStatus{Code: websocket.StatusTryAgainLater, Reason: "send queue full", Cause: CauseSlow}
	waiting := q.waitingClose()
	q.discard(ErrClosed)
	if !c.closing.CompareAndSwap(nil, st) {
		if waiting != nil {
			q.push(c, queued{close: waiting})
		}
		q.closed = true
		return false
	}
	q.total.slowClosed.Add(1)
	q.push(c, queued{close: st})
	q.closed = true
	return true
}

// waitingClose returns the status of the close waiting in the queue or its
// overflow, if any. q.mu is held.
func (q *sendQueue) waitingClose() *CloseStatus {
	for _, it := range q.items[q.head:] {
		if it.close != nil {
			return it.close
		}
	}
	for _, p := range q.over {
		if p.it.close != nil {
			return p.it.close
		}
	}
	return nil
}

// logOverflow logs that overflow closed c. The caller holds no lock (not
// q.mu, not the hub's): a slow log handler must not stall the fan-out.
func (q *sendQueue) logOverflow(c *Conn) {
	c.srv.log.Info("nows: slow client closed: send queue full", "route", c.route.full, "remote", c.req.remote,
		"policy", q.opts.Policy.String())
}

// closeInOrder closes c with st once the messages queued before have been
// written. It reports whether this call started the close.
func (q *sendQueue) closeInOrder(c *Conn, st CloseStatus) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || !c.closing.CompareAndSwap(nil, &st) {
		return false
	}
	q.pushInOrder(c, queued{close: &st})
	q.closed = true
	return true
}

// discard drops every queued entry, and the overflow: direct sends get
// err. q.mu is held.
func (q *sendQueue) discard(err error) {
	q.discards.Add(1)
	n := 0
	drop := func(it queued) {
		switch {
		case it.done != nil:
			it.done <- err
		case it.close == nil:
			n++
		}
	}
	for _, it := range q.items[q.head:] {
		drop(it)
	}
	for _, p := range q.over {
		drop(p.it)
	}
	q.drop(n)
	clear(q.items)
	q.items, q.head, q.bytes = q.items[:0], 0, 0
	if q.over != nil {
		clear(q.over)
		q.dropOver()
	}
}

// stop closes the queue for good and waits for its writer. The connection
// is already closed, so the writer's last write fails at once.
func (q *sendQueue) stop() {
	q.mu.Lock()
	q.closed = true
	q.discard(ErrClosed)
	q.mu.Unlock()
	q.writer.Wait()
}

// stats returns a snapshot of the counters.
func (q *sendQueue) stats() queueStats {
	q.mu.Lock()
	pending, bytes := len(q.items)-q.head+q.inflight+len(q.over), q.bytes+q.inflightBytes
	for _, p := range q.over {
		bytes += len(p.it.data)
	}
	q.mu.Unlock()
	return queueStats{
		Queued:       q.queued.Load(),
		Sent:         q.sent.Load(),
		Dropped:      q.dropped.Load(),
		Batches:      q.batches.Load(),
		Pending:      pending,
		PendingBytes: bytes,
	}
}

// Batches: when the queue holds several messages, the writer takes up to
// maxBatch of them (maxBatchBytes at most, and never past a close) and
// writes their frames in one writev instead of one write(2) each (see
// frames.go). The messages of a batch still count against the queue's
// bounds until the batch is written: its bytes reach the client together.
const (
	maxBatch      = 64
	maxBatchBytes = maxHeldOut
)

// writeLoop writes the queue out and returns when it is empty. It runs only
// while the queue holds messages; push starts it again.
func (c *Conn) writeLoop(q *sendQueue) {
	defer q.writer.Done()
	var batch []queued
	for {
		q.mu.Lock()
		if n := len(batch); n > 0 { // the previous batch is written
			clear(batch)
			batch = batch[:0]
			q.inflight, q.inflightBytes = 0, 0
			q.makeRoom()
		}
		if q.stopIfEmpty() {
			q.mu.Unlock()
			return
		}
		if batch == nil {
			batch = make([]queued, 0, 4) // on the heap: a small stack is not grown
		}
		batch = q.take(batch)
		gen := q.discards.Load()
		q.mu.Unlock()

		if it := batch[0]; it.close != nil {
			_ = c.ws.Close(it.close.Code, it.close.Reason)
			continue
		}
		sent, dropped, err := c.writeBatch(q, batch, gen)
		q.count(sent, dropped)
		if sent > 1 {
			q.batches.Add(1)
		}
		if err != nil {
			q.fail()
			continue // the loop ends on the empty queue
		}
	}
}

// count adds to the counters what a write did.
func (q *sendQueue) count(sent, dropped int) {
	q.sent.Add(uint64(sent))
	q.total.sent.Add(uint64(sent)) // shared by every writer: one add a batch
	if dropped > 0 {
		q.drop(dropped)
	}
}

// fail closes the queue after a failed write and drops what it holds.
func (q *sendQueue) fail() {
	q.mu.Lock()
	q.closed = true
	q.discard(ErrClosed)
	q.mu.Unlock()
}

// stopIfEmpty ends the writer's turn when the queue is empty, and reports
// whether it did. q.mu is held.
func (q *sendQueue) stopIfEmpty() bool {
	if q.head != len(q.items) {
		return false
	}
	q.running = false
	if cap(q.items) > 64 {
		q.items = nil // a burst does not pin its memory
	} else {
		q.items = q.items[:0]
	}
	q.head = 0
	return true
}

// startWriter drains q, which the caller's offer has just started. The
// caller's goroutine first tries to write the queue's first message
// itself, once and without waiting: a client that keeps up takes it at
// once, and a broadcast to a room of such clients then costs one system
// call per member and no goroutine. Whatever is left (more messages, a
// socket that was full, the rest of a frame written in part) goes to a
// writer goroutine. The caller holds no lock.
func (c *Conn) startWriter(q *sendQueue) {
	q.mu.Lock()
	if q.head == len(q.items) || q.items[q.head].frame == nil || q.items[q.head].done != nil || c.wire.raw == nil {
		q.mu.Unlock()
		go c.writeLoop(q)
		return
	}
	it := q.items[q.head]
	q.items[q.head] = queued{}
	q.head++
	q.bytes -= len(it.data)
	gen := q.discards.Load()
	q.mu.Unlock()

	n := c.wire.tryWrite(it.frame)
	if n == 0 {
		q.mu.Lock()
		if q.discards.Load() == gen { // put it back, for the writer
			q.head--
			q.items[q.head] = it
			q.bytes += len(it.data)
		} else {
			q.drop(1)
		}
		q.mu.Unlock()
		go c.writeLoop(q)
		return
	}
	q.count(1, 0)
	q.mu.Lock()
	q.makeRoom()
	done := n == len(it.frame) && q.stopIfEmpty()
	q.mu.Unlock()
	switch {
	case done:
		q.writer.Done()
	case n < len(it.frame):
		go c.writeRest(q)
	default:
		go c.writeLoop(q)
	}
}

// writeRest writes what startWriter left of a frame, then the queue.
func (c *Conn) writeRest(q *sendQueue) {
	if c.wire.finishFrame() != nil {
		q.fail()
	}
	c.writeLoop(q)
}

// take moves the next entries from the queue into batch: a close alone, or
// up to maxBatch messages. Those after the first stay counted as in
// flight. q.mu is held.
func (q *sendQueue) take(batch []queued) []queued {
	bytes := 0
	for q.head < len(q.items) && len(batch) < maxBatch {
		it := q.items[q.head]
		if len(batch) > 0 && (it.close != nil || bytes+len(it.data) > maxBatchBytes) {
			break
		}
		batch = append(batch, it)
		q.items[q.head] = queued{}
		q.head++
		q.bytes -= len(it.data)
		if len(batch) > 1 {
			q.inflight++
			q.inflightBytes += len(it.data)
		}
		bytes += len(it.data)
		if it.close != nil {
			break
		}
	}
	q.makeRoom()
	return batch
}

// makeRoom moves the overflow into the room made, then wakes the
// broadcasts waiting for room (QueueBlock). q.mu is held.
func (q *sendQueue) makeRoom() {
	if len(q.over) > 0 {
		q.unpark()
	}
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
}

// writeBatch writes the messages of batch, in one writev when nows
// writes their frames, and reports the outcome to the direct sends among
// them once the batch is out. It returns how many messages were sent and
// how many broadcasts dropped. A failed write fails the whole batch: what
// of it reached the client is unknown. When the queue is discarded
// meanwhile (an overflow, gen is then stale), only the first message is
// written; the close frame that follows goes after it.
func (c *Conn) writeBatch(q *sendQueue, batch []queued, gen uint64) (sent, dropped int, err error) {
	n := len(batch) // messages written
	if n > 1 && q.discards.Load() != gen {
		n = 1
	}
	if batch[0].frame != nil {
		err = c.writeFramesOf(batch[:n])
	} else {
		for _, it := range batch[:n] {
			if err = c.ws.Write(context.Background(), it.typ, it.data); err != nil {
				break
			}
		}
	}
	if err != nil {
		n = 0
	}
	for i, it := range batch {
		e := err
		if i >= n && e == nil {
			e = ErrClosed
		}
		switch {
		case it.done != nil:
			it.done <- e
		case e != nil:
			dropped++
		}
		if e == nil {
			sent++
		}
	}
	return sent, dropped, err
}

// writeFramesOf writes the frames of batch in one writev.
func (c *Conn) writeFramesOf(batch []queued) error {
	ob := outBufs.Get().(*outBuf)
	ob.bufs = ob.vec[:0]
	for _, it := range batch {
		ob.bufs = append(ob.bufs, it.frame)
	}
	err := c.wire.writeFrames(&ob.bufs)
	clear(ob.vec[:len(batch)])
	outBufs.Put(ob)
	return err
}

// outgoing is a message on its way to one or more connections. Its frame
// is built on first need, once, and shared by every entry made from it
// (frames.go); a connection coder writes to (permessage-deflate) gets the
// payload only.
type outgoing struct {
	typ   websocket.MessageType
	data  []byte
	frame []byte
}

// entryFor returns the queue entry of o for c.
func (o *outgoing) entryFor(c *Conn) queued {
	if c.wire.flate {
		return queued{typ: o.typ, data: o.data}
	}
	if o.frame == nil {
		o.frame = newFrame(o.typ, o.data)
	}
	return queued{typ: o.typ, data: o.frame[len(o.frame)-len(o.data):], frame: o.frame}
}

// sendInOrder queues a direct send behind the broadcasts still waiting for
// c, so that the messages to one connection keep their order, and waits for
// it to be written; when ctx ends first, it takes the send back unless the
// writer has begun it. It reports false when no broadcast is waiting: the
// caller then writes directly, which keeps the direct path as fast as it is
// without a hub.
func (c *Conn) sendInOrder(ctx context.Context, typ websocket.MessageType, p []byte) (bool, error) {
	cs := c.hs.Load()
	if cs == nil {
		return false, nil
	}
	q := &cs.queue
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return false, nil
	}
	if q.closed {
		q.mu.Unlock()
		return true, ErrClosed
	}
	done := make(chan error, 1)
	// No copy of p: the frame is one, and a connection coder writes to
	// reads p while this call waits for the write (or has taken it back).
	o := outgoing{typ: typ, data: p}
	it := o.entryFor(c)
	it.done = done
	q.pushInOrder(c, it)
	q.mu.Unlock()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if q.unqueue(done) {
			return true, ctx.Err() // never written
		}
		// The writer has taken it (or the queue failed it): what
		// became of it is the write's outcome, whatever ctx says.
		err = <-done
	}
	if err != nil && (c.closing.Load() != nil || errors.Is(err, net.ErrClosed)) && !errors.Is(err, ErrClosed) {
		return true, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return true, err
}

// unqueue removes the direct send that reports to done, unless the writer
// has already taken it, and reports whether it did.
func (q *sendQueue) unqueue(done chan error) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := q.head; i < len(q.items); i++ {
		if q.items[i].done != done {
			continue
		}
		q.bytes -= len(q.items[i].data)
		copy(q.items[i:], q.items[i+1:])
		q.items[len(q.items)-1] = queued{}
		q.items = q.items[:len(q.items)-1]
		q.drop(1)
		q.makeRoom() // for QueueBlock
		return true
	}
	for i := range q.over {
		if q.over[i].it.done != done {
			continue
		}
		q.over = slices.Delete(q.over, i, i+1)
		q.drop(1)
		if len(q.over) == 0 {
			q.dropOver()
		}
		return true
	}
	return false
}
