package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// echoRun is the shared state of an echo run.
type echoRun struct {
	cfg      Config
	typ      websocket.MessageType
	start    time.Time // when traffic starts
	deadline time.Time // when senders stop (duration mode)
	stop     atomic.Bool
	claimed  atomic.Int64 // messages handed out (messages mode)
}

// echoConn is one connection of an echo run. Only its own goroutines touch
// it, except count, which the progress line reads.
type echoConn struct {
	ws    *websocket.Conn
	count atomic.Int64 // echoes received and checked
	last  time.Time    // when the last echo arrived
	hist  Histogram
	errs  errorLog
	bad   int64 // mismatches
	seq   uint64
	send  []byte // the payload, rewritten per message
	want  []byte // the expected echo, rewritten per message
	buf   []byte // the read buffer
}

func runEcho(ctx context.Context, cfg Config, res *Result, p *progress) error {
	res.Size, res.Binary, res.Pipeline = cfg.Size, cfg.Binary, cfg.Pipeline
	r := &echoRun{cfg: cfg, typ: websocket.MessageText}
	if cfg.Binary {
		r.typ = websocket.MessageBinary
	}

	conns, dialErrs := dialEcho(ctx, cfg)
	res.Errors += dialErrs.n
	res.FirstError = dialErrs.first
	if len(conns) == 0 {
		return fmt.Errorf("%w: %s", ErrNoConnection, dialErrs.first)
	}

	r.start = time.Now()
	r.deadline = r.start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { r.serve(c) })
	}

	// The watchdog: stops senders at the deadline or when ctx ends, prints
	// progress, and closes every connection when the run overruns (the
	// duration plus Timeout) or stalls (no echo for Timeout), so that no
	// read blocks forever. It is the only timer of the run.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	total := func() int64 {
		var n int64
		for _, c := range conns {
			n += c.count.Load()
		}
		return n
	}
	p.start(func() string {
		n := total()
		el := time.Since(r.start)
		return fmt.Sprintf("bench: %5.1fs  conns=%d  msgs=%d  msgs/s=%.0f", el.Seconds(), len(conns), n, float64(n)/el.Seconds())
	})
	tick := time.NewTicker(100 * time.Millisecond)
	lastN, lastProgress := int64(0), time.Now()
	killed := false
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			r.stop.Store(true)
		case now := <-tick.C:
			if cfg.Messages <= 0 && !now.Before(r.deadline) {
				r.stop.Store(true)
			}
			if n := total(); n != lastN {
				lastN, lastProgress = n, now
			}
			overrun := cfg.Messages <= 0 && now.Sub(r.deadline) > cfg.Timeout
			if !killed && (overrun || now.Sub(lastProgress) > cfg.Timeout || ctx.Err() != nil && now.Sub(lastProgress) > time.Second) {
				killed = true
				for _, c := range conns {
					_ = c.ws.CloseNow()
				}
			}
		}
	}
	tick.Stop()
	p.stop()

	end := r.start
	for _, c := range conns {
		res.Messages += c.count.Load()
		res.Mismatches += c.bad
		res.Errors += c.errs.n + c.bad
		if res.FirstError == "" {
			res.FirstError = c.errs.first
		}
		res.Latency.Merge(&c.hist)
		if c.last.After(end) {
			end = c.last
		}
	}
	res.Elapsed = end.Sub(r.start)
	if res.Elapsed > 0 {
		res.MsgsPerSec = float64(res.Messages) / res.Elapsed.Seconds()
	}
	h := &res.Latency
	res.P50, res.P99, res.P999 = h.Quantile(0.50), h.Quantile(0.99), h.Quantile(0.999)
	res.Min, res.Max, res.Mean = h.Min(), h.Max(), h.Mean()
	return ctx.Err()
}

// dialEcho opens cfg.Conns connections, at most 64 handshakes at a time.
func dialEcho(ctx context.Context, cfg Config) ([]*echoConn, errorLog) {
	client := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		DisableCompression:  true,
		MaxIdleConnsPerHost: -1,
	}}
	defer client.CloseIdleConnections()
	conns := make([]*echoConn, cfg.Conns)
	errs := make([]error, cfg.Conns)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			ws, resp, err := websocket.Dial(dctx, cfg.URL, &websocket.DialOptions{HTTPClient: client})
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if err != nil {
				errs[i] = err
				return
			}
			ws.SetReadLimit(int64(max(2*cfg.Size, 32<<10)))
			conns[i] = newEchoConn(ws, cfg.Size)
		})
	}
	wg.Wait()
	var log errorLog
	out := conns[:0]
	for i, c := range conns {
		if c != nil {
			out = append(out, c)
		} else {
			log.add(errs[i])
		}
	}
	return out, log
}

// The payload is printable ASCII (valid text) with the message's sequence
// number in hex in its first bytes, so that every echo can be checked
// against exactly what was sent.
const pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

func newEchoConn(ws *websocket.Conn, size int) *echoConn {
	c := &echoConn{ws: ws, send: make([]byte, size), want: make([]byte, size), buf: make([]byte, 0, size+512)}
	for i := range c.send {
		c.send[i] = pattern[i%len(pattern)]
	}
	copy(c.want, c.send)
	return c
}

// stamp writes seq in hex over the first (up to 16) bytes of p.
func stamp(p []byte, seq uint64) {
	const hex = "0123456789abcdef"
	n := min(len(p), 16)
	for i := n - 1; i >= 0; i-- {
		p[i] = hex[seq&0xf]
		seq >>= 4
	}
}

// next reports whether another message may be sent.
func (r *echoRun) next() bool {
	if r.stop.Load() {
		return false
	}
	if r.cfg.Messages > 0 {
		return r.claimed.Add(1) <= r.cfg.Messages
	}
	return true
}

// serve runs one connection's traffic, then closes it.
func (r *echoRun) serve(c *echoConn) {
	if r.cfg.Pipeline > 1 {
		r.pipelined(c)
	} else {
		r.serial(c)
	}
	if c.errs.n == 0 {
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	} else {
		_ = c.ws.CloseNow()
	}
}

// serial sends one message, waits for its echo, and so on.
func (r *echoRun) serial(c *echoConn) {
	ctx := context.Background() // no Done: coder's fast path
	for r.next() {
		c.seq++
		stamp(c.send, c.seq)
		t0 := time.Now()
		if err := c.ws.Write(ctx, r.typ, c.send); err != nil {
			c.fail(err)
			return
		}
		if !r.receive(ctx, c, t0) {
			return
		}
		if r.cfg.Messages <= 0 && !c.last.Before(r.deadline) {
			return
		}
	}
}

// pipelined keeps up to Pipeline messages in flight: a sender goroutine
// writes, this one reads. The channel carries each message's send time
// and bounds what is in flight.
func (r *echoRun) pipelined(c *echoConn) {
	ctx := context.Background()
	inflight := make(chan time.Time, r.cfg.Pipeline)
	var failed atomic.Bool
	var sender sync.WaitGroup
	var sendErr error
	sender.Go(func() {
		defer close(inflight)
		seq := uint64(0)
		for !failed.Load() && r.next() {
			now := time.Now()
			if r.cfg.Messages <= 0 && !now.Before(r.deadline) {
				return
			}
			seq++
			stamp(c.send, seq)
			inflight <- now
			if err := c.ws.Write(ctx, r.typ, c.send); err != nil {
				if !failed.Swap(true) {
					sendErr = err
				}
				_ = c.ws.CloseNow()
				return
			}
		}
	})
	for t0 := range inflight {
		if failed.Load() || !r.receive(ctx, c, t0) {
			if !failed.Swap(true) {
				_ = c.ws.CloseNow()
			}
			for range inflight { // let the sender finish
			}
			break
		}
	}
	sender.Wait()
	if sendErr != nil && c.errs.n == 0 {
		c.fail(sendErr)
	}
}

// receive reads the next echo into c.buf, checks it against the message of
// sequence number c.seq+1 (serial mode set c.seq already) and records its
// latency. It returns false when the connection failed.
func (r *echoRun) receive(ctx context.Context, c *echoConn, sent time.Time) bool {
	typ, rd, err := c.ws.Reader(ctx)
	if err != nil {
		c.fail(err)
		return false
	}
	buf := c.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			c.fail(err)
			return false
		}
	}
	c.buf = buf
	now := time.Now()
	c.hist.Record(now.Sub(sent))
	c.last = now
	if r.cfg.Pipeline > 1 {
		c.seq++
	}
	stamp(c.want, c.seq)
	if typ != r.typ || !bytes.Equal(buf, c.want) {
		c.bad++
	}
	c.count.Add(1)
	return true
}

func (c *echoConn) fail(err error) {
	if errors.Is(err, net.ErrClosed) && c.errs.n > 0 {
		return
	}
	c.errs.add(err)
}
