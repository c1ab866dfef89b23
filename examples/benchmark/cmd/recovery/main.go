// Command recovery is the load client of the benchmark's recovery
// scenario, driven by cmd/benchrun through its standard input and output.
// It connects -clients framework/client clients to URL (servers/history's
// events route) and joins each to the room, then prints "joined"; once
// every client has received the probe message "0" (benchrun publishes
// it), it prints "ready". benchrun then kills the server, publishes the
// messages "1" to "-messages" while it is down, starts it again and writes
// "up UNIXNANO", the moment it listened again. The clients reconnect by
// themselves and recover what they missed; when each has every message
// (or -timeout after "up"), recovery prints its recres.Result as JSON,
// and closes the clients and exits at the end of its input.
//
//	go run ./cmd/recovery -clients 1000 -messages 100 ws://127.0.0.1:8766/events
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nowebsocket/nows/examples/benchmark/internal/procstat"
	"github.com/nowebsocket/nows/examples/benchmark/internal/recres"
	"github.com/nowebsocket/nows/framework/client"
)

type config struct {
	clients, messages, parallel int
	minDelay, maxDelay, timeout time.Duration
	url                         string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.clients, "clients", 1000, "clients in the room")
	flag.IntVar(&cfg.messages, "messages", 100, "messages published while the server is down")
	flag.IntVar(&cfg.parallel, "dial", 32, "clients connecting at a time at the start")
	flag.DurationVar(&cfg.minDelay, "min-delay", 0, "the clients' Options.MinDelay (0: the client's default, 250ms)")
	flag.DurationVar(&cfg.maxDelay, "max-delay", 0, "the clients' Options.MaxDelay (0: the client's default, 30s)")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "bound on each step: joining, the probe, the recovery after \"up\"")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: recovery [flags] ws://HOST:PORT/events")
		os.Exit(2)
	}
	cfg.url = flag.Arg(0)
	if err := run(cfg, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "recovery:", err)
		os.Exit(1)
	}
}

// run drives the clients through the steps, reading benchrun's "up" line
// from in and writing the steps' lines and the result to out.
func run(cfg config, in io.Reader, out io.Writer) error {
	members := make([]*member, cfg.clients)
	for i := range members {
		members[i] = newMember(cfg)
	}
	defer closeAll(members)
	if err := connectAll(cfg, members); err != nil {
		return err
	}
	fmt.Fprintln(out, "joined")
	if err := waitAll(members, cfg.timeout, (*member).probed); err != nil {
		return fmt.Errorf("the probe: %w", err)
	}
	for _, m := range members {
		m.arm()
	}
	fmt.Fprintln(out, "ready")
	stdin := bufio.NewReader(in)
	up, err := readUp(stdin)
	if err != nil {
		return err
	}
	cpu0, err := procstat.CPUTicks(os.Getpid())
	if err != nil {
		return err
	}
	_ = waitAll(members, cfg.timeout, (*member).complete) // the result says who is missing
	res := result(cfg, members, up)
	cpu1, err := procstat.CPUTicks(os.Getpid())
	if err != nil {
		return err
	}
	res.CPUTicks = cpu1 - cpu0
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, string(b)); err != nil {
		return err
	}
	// The clients stay until benchrun has read the server's and Redis's
	// CPU time, and closes the input: their closes are not in it.
	_, err = io.Copy(io.Discard, stdin)
	return err
}

// readUp reads the line "up UNIXNANO" and returns its time.
func readUp(in *bufio.Reader) (time.Time, error) {
	line, err := in.ReadString('\n')
	if err != nil {
		return time.Time{}, fmt.Errorf("waiting for \"up\": %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "up" {
		return time.Time{}, fmt.Errorf("want \"up UNIXNANO\", got %q", line)
	}
	ns, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("\"up\": %w", err)
	}
	return time.Unix(0, ns), nil
}

// connectAll connects and joins every member, cfg.parallel at a time.
func connectAll(cfg config, members []*member) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	sem := make(chan struct{}, cfg.parallel)
	errs := make(chan error, len(members))
	for _, m := range members {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- m.connect(ctx)
		}()
	}
	var first error
	for range members {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// closeAll closes the clients, a few at a time: each Close waits for its
// client's goroutines.
func closeAll(members []*member) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, m := range members {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = m.c.Close()
		})
	}
	wg.Wait()
}

// waitAll polls until ok holds for every member, or timeout.
func waitAll(members []*member, timeout time.Duration, ok func(*member) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		for _, m := range members {
			if !ok(m) {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients still waiting after %s", missing, len(members), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// result sums up the members' records, times from up.
func result(cfg config, members []*member, up time.Time) recres.Result {
	res := recres.Result{Clients: cfg.clients, Messages: cfg.messages}
	var fromUp, fromAttempt []float64
	for _, m := range members {
		m.mu.Lock()
		res.Recovered += int64(m.got)
		res.Dup += int64(m.dup)
		res.Reordered += int64(m.reordered)
		res.Lost += int64(cfg.messages - m.got)
		res.NotRecovered += int64(m.notRecovered)
		if m.err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = m.err.Error()
			}
		}
		if m.doneLocked() {
			res.Done++
			fromUp = append(fromUp, ms(m.doneAt.Sub(up)))
			fromAttempt = append(fromAttempt, ms(m.doneAt.Sub(m.attemptAt)))
		}
		m.mu.Unlock()
	}
	if res.Done == len(members) {
		res.TotalMs = slices.Max(fromUp)
	}
	res.P50Ms, res.P99Ms = quantile(fromUp, 0.5), quantile(fromUp, 0.99)
	res.AttemptP50Ms, res.AttemptP99Ms = quantile(fromAttempt, 0.5), quantile(fromAttempt, 0.99)
	return res
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the q-quantile of xs (the nearest rank), or 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(xs))
	i := int(float64(len(v))*q+0.999999) - 1
	return v[min(max(i, 0), len(v)-1)]
}

// member is one client and what it received.
type member struct {
	c        *client.Client
	messages int

	mu           sync.Mutex
	armed        bool      // the server is about to be killed: count what follows
	probe        bool      // the probe "0" came
	seen         []bool    // seen[n]: message n came after the probe
	got, last    int       // messages seen, and the highest
	dup          int       // messages that came again
	reordered    int       // messages that came after a higher one
	recovered    bool      // a join after arm said Recovered
	notRecovered int       // joins after arm not recovered, and nows.unrecovered notices
	attemptAt    time.Time // the start of the latest reconnect attempt
	doneAt       time.Time // when the last missing message came
	err          error     // the first unexpected thing
}

func newMember(cfg config) *member {
	m := &member{messages: cfg.messages, seen: make([]bool, cfg.messages+1)}
	m.c = client.New(cfg.url, &client.Options{
		MinDelay: cfg.minDelay, MaxDelay: cfg.maxDelay,
		Logger: slog.New(slog.DiscardHandler),
	})
	m.c.On("message", m.message)
	m.c.OnRecovery(m.recovery)
	m.c.OnState(m.state)
	return m
}

func (m *member) connect(ctx context.Context) error {
	if err := m.c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := m.c.Join(ctx, recres.Room); err != nil {
		return fmt.Errorf("join %s: %w", recres.Room, err)
	}
	return nil
}

// message records a message of the room: its number, as text.
func (m *member) message(data json.RawMessage) {
	var text string
	n, err := -1, json.Unmarshal(data, &text)
	if err == nil {
		n, err = strconv.Atoi(text)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case err != nil || n < 0 || n > m.messages:
		m.fail(fmt.Errorf("unexpected message %s", data))
	case n == 0:
		if m.probe {
			m.dup++
		}
		m.probe = true
	case !m.armed:
		m.fail(fmt.Errorf("message %d before the server was killed", n))
	case m.seen[n]:
		m.dup++
	default:
		m.seen[n] = true
		m.got++
		if n < m.last {
			m.reordered++
		}
		m.last = max(m.last, n)
		if m.got == m.messages {
			m.doneAt = time.Now()
		}
	}
}

func (m *member) recovery(r client.Recovery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case !m.armed: // the first join: nothing to recover
	case r.Recovered:
		m.recovered = true
	default:
		m.notRecovered++
		m.fail(fmt.Errorf("not recovered: %q", r.Reason))
	}
}

func (m *member) state(s client.State, _ error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case s == client.Reconnecting && m.doneAt.IsZero():
		m.attemptAt = time.Now()
	case s == client.Closed:
		m.fail(errors.New("the client gave up"))
	}
}

// fail keeps err if it is the first. mu is held.
func (m *member) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

func (m *member) arm() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed = true
}

func (m *member) probed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.probe
}

// complete reports whether nothing more is to come: the member has every
// message after a recovered join, or was told it is not recovered (the
// server sends the messages it missed no more).
func (m *member) complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.got == m.messages && m.recovered || m.notRecovered > 0
}

// doneLocked reports whether the member has every message, once and in
// order, after a recovered join. mu is held.
func (m *member) doneLocked() bool {
	return m.got == m.messages && m.recovered && m.dup == 0 && m.reordered == 0
}
