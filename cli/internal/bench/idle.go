package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// dialParallel is how many handshakes --idle and --handshakes run at once
// at most.
const dialParallel = 256

// runIdle opens cfg.Idle connections, calls cfg.Held, holds them for
// cfg.Hold, checks which are still open and closes them.
func runIdle(ctx context.Context, cfg Config, t target, res *Result, p *progress) error {
	res.Idle, res.Conns = cfg.Idle, cfg.Idle
	conns := make([]net.Conn, cfg.Idle)
	errs := make([]error, cfg.Idle)
	var opened atomic.Int64
	d := &net.Dialer{}
	start := time.Now()
	p.start(func() string {
		return fmt.Sprintf("bench: opening idle connections %d/%d", opened.Load(), cfg.Idle)
	})
	forEach(ctx, cfg.Idle, min(dialParallel, cfg.Idle), func(i int) {
		nc, err := rawDial(ctx, d, t, cfg.Timeout)
		if err != nil {
			errs[i] = err
			return
		}
		conns[i] = nc
		opened.Add(1)
	})
	res.OpenTime = time.Since(start)
	p.stop()
	var log errorLog
	for i, err := range errs {
		if err != nil {
			log.add(err)
		} else if conns[i] == nil {
			log.add(ctx.Err())
		}
	}
	res.Opened = int(opened.Load())
	res.Errors, res.FirstError = log.n, log.first
	if log.n > 0 && isFileLimit(log.first) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("dials failed for lack of file descriptors (limit %d): raise `ulimit -n`", res.FileLimit))
	}
	if res.Opened == 0 {
		return fmt.Errorf("%w: %s", ErrNoConnection, log.first)
	}
	if cfg.Held != nil {
		cfg.Held(res.Opened)
	}

	held := time.Now()
	p.start(func() string {
		return fmt.Sprintf("bench: holding %d idle connections %4.1fs/%s", res.Opened, time.Since(held).Seconds(), cfg.Hold)
	})
	timer := time.NewTimer(cfg.Hold)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	res.Hold = time.Since(held)
	p.stop()

	// A connection still open has nothing to read: a read that times out at
	// once means alive, EOF or a reset means the server dropped it.
	var alive atomic.Int64
	forEach(context.Background(), len(conns), min(dialParallel, len(conns)), func(i int) {
		nc := conns[i]
		if nc == nil {
			return
		}
		_ = nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := nc.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
			alive.Add(1)
		}
		_ = nc.Close()
	})
	res.Alive = int(alive.Load())
	res.Elapsed = time.Since(start)
	return ctx.Err()
}

// runHandshakes opens and closes cfg.Handshakes connections, cfg.Conns at
// a time.
func runHandshakes(ctx context.Context, cfg Config, t target, res *Result, p *progress) error {
	res.Handshakes = cfg.Handshakes
	var ok, unclean atomic.Int64
	errs := make([]error, cfg.Handshakes)
	d := &net.Dialer{}
	start := time.Now()
	p.start(func() string {
		el := time.Since(start)
		n := ok.Load()
		return fmt.Sprintf("bench: %5.1fs  handshakes=%d/%d  handshakes/s=%.0f", el.Seconds(), n, cfg.Handshakes, float64(n)/el.Seconds())
	})
	forEach(ctx, cfg.Handshakes, cfg.Conns, func(i int) {
		nc, err := rawDial(ctx, d, t, cfg.Timeout)
		if err != nil {
			errs[i] = err
			return
		}
		ok.Add(1)
		if !rawClose(nc, cfg.Timeout) {
			unclean.Add(1)
		}
	})
	res.Elapsed = time.Since(start)
	p.stop()
	var log errorLog
	for _, err := range errs {
		if err != nil {
			log.add(err)
		}
	}
	res.Opened = int(ok.Load())
	res.UncleanCloses = int(unclean.Load())
	res.Errors, res.FirstError = log.n, log.first
	if res.Elapsed > 0 {
		res.HandshakesPerSec = float64(res.Opened) / res.Elapsed.Seconds()
	}
	if res.Opened == 0 {
		return fmt.Errorf("%w: %s", ErrNoConnection, log.first)
	}
	return ctx.Err()
}

// forEach calls f(i) for i in [0, n) on up to par goroutines, and stops
// handing out indexes when ctx ends.
func forEach(ctx context.Context, n, par int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(par, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// raiseFileLimit raises the soft limit on open files to at least need (and
// the hard limit too when the process may), and returns the limit now in
// force with a warning when it is still below need.
func raiseFileLimit(need uint64) (uint64, string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Sprintf("cannot read the open-file limit: %v", err)
	}
	if lim.Cur >= need {
		return lim.Cur, ""
	}
	if lim.Max < need {
		raised := syscall.Rlimit{Cur: need, Max: need}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return need, ""
		}
	}
	lim.Cur = min(need, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return lim.Cur, fmt.Sprintf("cannot raise the open-file limit to %d: %v", need, err)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < need {
		return lim.Cur, fmt.Sprintf("open-file limit is %d (hard limit %d), %d needed: some connections will fail; raise it with `ulimit -n %d` as root", lim.Cur, lim.Max, need, need)
	}
	return lim.Cur, ""
}

func isFileLimit(msg string) bool {
	return strings.Contains(msg, syscall.EMFILE.Error())
}
