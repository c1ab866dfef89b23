//go:build linux

// Command fanout is the load client of the benchmark's fan-out scenarios.
// It opens -members connections to URL/fanout (each server joins them to
// one room), waits until every one of them has received a probe broadcast,
// then sends -rate messages a second of -size bytes for -duration on one
// more connection, to URL/fanout/pub, which the server broadcasts to the
// room. Every message carries a sequence number and its send time; the
// client reports deliveries per second, latency from send to receipt (p50,
// p99), lost and duplicated deliveries, and, with -pid, the server's CPU
// time per delivery from /proc/PID/stat.
//
// With several URLs (the nodes of a cluster, cmd/cluster) the members are
// spread over them in turn and the publisher connects to the first: every
// broadcast reaches the other nodes through their broker. -pids then gives
// each node's process, and the report each node's CPU per delivery it made.
// -dying N says node N will be killed during the run (cmd/cluster -kill):
// its members' closes and losses are reported under that node and left out
// of the totals, which must stay 0. -mark prints "fanout: sending" on
// stderr when the sending starts, and -broker-pid reports the broker's CPU
// time while sending.
//
// The members are read by one epoll loop on raw descriptors (-readers for
// more), not by a goroutine per connection: on a small machine that would
// cost more CPU than the server under test.
//
//	go run ./cmd/fanout -members 1000 -size 64 -rate 100 -duration 4s ws://127.0.0.1:8766
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nowebsocket/nows/examples/benchmark/internal/fanres"
	"github.com/nowebsocket/nows/examples/benchmark/internal/procstat"
)

type config struct {
	members, size, readers, window, parallel int
	rate                                     float64
	duration, timeout, lossAfter             time.Duration
	pid                                      int
	pids                                     []int // one per URL, with several
	dying                                    int   // 1-based URL whose server is to be killed, or 0
	mark                                     bool  // say on stderr when the sending starts
	brokerPid                                int   // the broker's process: report its CPU time
}

// target is one server the members connect to.
type target struct {
	addr       netip.AddrPort
	host, base string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.members, "members", 1000, "connections in the room")
	flag.IntVar(&cfg.size, "size", 64, "message size in bytes (at least 16)")
	flag.Float64Var(&cfg.rate, "rate", 100, "broadcasts per second")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long to send")
	flag.IntVar(&cfg.window, "window", 64, "broadcasts in flight at most (not yet received by every member); a tick that finds the window full sends nothing")
	flag.IntVar(&cfg.readers, "readers", 1, "epoll loops reading the members")
	flag.IntVar(&cfg.parallel, "dial", 64, "handshakes at a time while opening the members")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "bound on each handshake, and on the wait for every member to join")
	flag.DurationVar(&cfg.lossAfter, "loss-after", 2*time.Second, "a broadcast not received by every member this long after its send no longer holds the window, and the end waits no longer for it")
	flag.IntVar(&cfg.pid, "pid", 0, "the server's process ID: report its CPU time per delivery")
	pids := flag.String("pids", "", "with several URLs, the comma-separated process IDs of their servers, in order: report each one's CPU time per delivery")
	flag.IntVar(&cfg.dying, "dying", 0, "with several URLs, the 1-based index of a server that will be killed during the run (not the first: it has the publisher): its members' closes and losses are expected, reported under its node and left out of the totals")
	flag.BoolVar(&cfg.mark, "mark", false, "print \"fanout: sending\" on stderr when the sending starts (the members are all in the room)")
	flag.IntVar(&cfg.brokerPid, "broker-pid", 0, "the broker's process ID: report its CPU time while sending")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: fanout [flags] ws://HOST:PORT [ws://HOST:PORT...]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || cfg.size < headerLen || cfg.members < 1 || cfg.rate <= 0 || cfg.readers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	for _, f := range strings.FieldsFunc(*pids, func(r rune) bool { return r == ',' }) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fanout: -pids %q: %v\n", *pids, err)
			os.Exit(2)
		}
		cfg.pids = append(cfg.pids, pid)
	}
	if cfg.dying != 0 && (cfg.dying < 2 || cfg.dying > flag.NArg()) {
		fmt.Fprintf(os.Stderr, "fanout: -dying %d: want 2..%d (the first URL has the publisher)\n", cfg.dying, flag.NArg())
		os.Exit(2)
	}
	if len(cfg.pids) > 0 && len(cfg.pids) != flag.NArg() {
		fmt.Fprintf(os.Stderr, "fanout: -pids has %d process IDs for %d URLs\n", len(cfg.pids), flag.NArg())
		os.Exit(2)
	}
	res, err := run(cfg, flag.Args())
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	} else {
		printResult(res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func printResult(r fanres.Result) {
	fmt.Printf("members %d  size %d B  rate %.0f/s  sent %d (skipped %d)\n", r.Members, r.Size, r.Rate, r.Broadcasts, r.Skipped)
	fmt.Printf("deliveries %d  %.0f/s  lost %d  dup %d  errors %d\n", r.Deliveries, r.DeliveriesPerSec, r.Lost, r.Dup, r.Errors)
	fmt.Printf("latency p50 %.0f µs  p99 %.0f µs  max %.0f µs\n", r.P50us, r.P99us, r.MaxUs)
	if r.ServerCPUus > 0 {
		fmt.Printf("server CPU %.3f µs/delivery  (client %.3f µs/delivery)\n", r.CPUusPerDelivery, r.ClientCPUus/float64(max(r.Deliveries, 1)))
	}
	for _, n := range r.Nodes {
		fmt.Printf("node %s  members %d  deliveries %d  lost %d  dup %d  closed %d  CPU %.3f µs/delivery\n", n.URL, n.Members, n.Deliveries, n.Lost, n.Dup, n.Closed, n.CPUusPerDelivery)
	}
	if r.FirstError != "" {
		fmt.Println("first error:", r.FirstError)
	}
}

// parseURL returns the address to dial and the Host header of a ws:// URL.
func parseURL(raw string) (netip.AddrPort, string, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ws" {
		return netip.AddrPort{}, "", "", fmt.Errorf("want ws://HOST:PORT, got %q", raw)
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return netip.AddrPort{}, "", "", err
	}
	var ip4 netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok && ip.To4() != nil {
			ip4 = a
			break
		}
	}
	if !ip4.IsValid() {
		return netip.AddrPort{}, "", "", fmt.Errorf("%s: no IPv4 address", u.Hostname())
	}
	port, err := strconv.Atoi(cmpOr(u.Port(), "80"))
	if err != nil {
		return netip.AddrPort{}, "", "", err
	}
	return netip.AddrPortFrom(ip4, uint16(port)), u.Host, strings.TrimSuffix(u.Path, "/"), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func run(cfg config, urls []string) (fanres.Result, error) {
	res := fanres.Result{Members: cfg.members, Size: cfg.size, Rate: cfg.rate, Dying: cfg.dying}
	targets := make([]target, len(urls))
	for i, u := range urls {
		addr, host, base, err := parseURL(u)
		if err != nil {
			return res, err
		}
		targets[i] = target{addr, host, base}
	}
	var err error
	raiseFileLimit(uint64(cfg.members) + 256)

	total := uint64(cfg.rate*cfg.duration.Seconds()) + 1
	sh := &shared{size: cfg.size, maxSeq: total, counts: make([]atomic.Int32, total)}
	readers := make([]*reader, cfg.readers)
	for i := range readers {
		if readers[i], err = newReader(sh); err != nil {
			return res, err
		}
	}
	setup := time.Now()

	// Open the members, cfg.parallel handshakes at a time.
	type dialed struct {
		fd   int
		left []byte
		err  error
	}
	conns := make([]dialed, cfg.members)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.parallel, cfg.members) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < cfg.members; i = int(next.Add(1) - 1) {
				t := targets[i%len(targets)]
				fd, left, err := rawDial(t.addr, t.host, t.base+"/fanout", cfg.timeout)
				conns[i] = dialed{fd, left, err}
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c.err == nil {
				_ = unix.Close(c.fd)
			}
		}
	}()
	for i, c := range conns {
		if c.err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = "member: " + c.err.Error()
			}
			continue
		}
		node := i % len(targets)
		if err := readers[i%len(readers)].add(c.fd, c.left, node, node+1 == cfg.dying); err != nil {
			return res, err
		}
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("%d of %d members failed to connect: %s", res.Errors, cfg.members, res.FirstError)
	}
	pub, _, err := rawDial(targets[0].addr, targets[0].host, targets[0].base+"/fanout/pub", cfg.timeout)
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer unix.Close(pub)
	_ = unix.SetsockoptInt(pub, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)

	var readersDone sync.WaitGroup
	for _, r := range readers {
		readersDone.Go(r.run)
	}
	stopReaders := sync.OnceFunc(func() { sh.stop.Store(true); readersDone.Wait() })
	defer stopReaders()

	frame := clientFrame(0x2, make([]byte, cfg.size))
	payload := frame[len(frame)-cfg.size:]
	for i := headerLen; i < len(payload); i++ {
		payload[i] = byte('a' + i%26)
	}
	send := func(seq uint64) error {
		binary.LittleEndian.PutUint64(payload, seq)
		binary.LittleEndian.PutUint64(payload[8:], uint64(time.Now().UnixNano()))
		return writeAll(pub, frame)
	}

	// Probe until every member has received a broadcast: then each one is
	// in the room, whenever its server runs the join.
	deadline := time.Now().Add(cfg.timeout)
	for k := uint64(0); sh.joined.Load() < int64(cfg.members); k++ {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %d of %d members received the probes within %s", sh.joined.Load(), cfg.members, cfg.timeout)
		}
		if err := send(probeBit | k); err != nil {
			return res, fmt.Errorf("publisher: %w", err)
		}
		for range 10 {
			if sh.joined.Load() >= int64(cfg.members) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the last probes drain
	res.SetupS = time.Since(setup).Seconds()

	// Send at a steady rate, at most cfg.window broadcasts in flight. A
	// broadcast is done when every member not dying has it.
	want := int32(cfg.members)
	if cfg.dying > 0 {
		want -= int32(membersOf(cfg.dying-1, cfg.members, len(targets)))
	}
	sentAt := make([]int64, total)
	var sent, done uint64
	advance := func(now int64) {
		for done < sent && (sh.counts[done].Load() >= want || now-sentAt[done] > cfg.lossAfter.Nanoseconds()) {
			done++
		}
	}
	srv0, _ := procstat.CPUTicks(cfg.pid)
	cli0, _ := procstat.CPUTicks(os.Getpid())
	nodes0 := nodeTicks(cfg.pids)
	broker0, _ := procstat.CPUTicks(cfg.brokerPid)
	start := time.Now()
	if cfg.mark {
		fmt.Fprintln(os.Stderr, "fanout: sending")
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	for i := range total - 1 {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		now := time.Now().UnixNano()
		advance(now)
		if sent-done >= uint64(cfg.window) {
			res.Skipped++
			continue
		}
		sentAt[sent] = now
		if err := send(sent); err != nil {
			return res, fmt.Errorf("publisher: %w", err)
		}
		sent++
	}
	endSend := time.Now()
	for done < sent {
		time.Sleep(2 * time.Millisecond)
		advance(time.Now().UnixNano())
	}
	end := time.Unix(0, max(sh.lastRecv.Load(), endSend.UnixNano()))
	srv1, _ := procstat.CPUTicks(cfg.pid)
	cli1, _ := procstat.CPUTicks(os.Getpid())
	nodes1 := nodeTicks(cfg.pids)
	broker1, _ := procstat.CPUTicks(cfg.brokerPid)
	stopReaders()

	var st stats
	for _, r := range readers {
		st.delivered += r.st.delivered
		st.dup += r.st.dup
		st.bad += r.st.bad
		st.closed += r.st.closed
		st.lat.merge(&r.st.lat)
		if st.firstErr == "" {
			st.firstErr = r.st.firstErr
		}
	}
	perNode := make([]fanres.Node, len(urls))
	for _, r := range readers {
		for _, m := range r.members {
			n := &perNode[m.node]
			lost := m.lost(sent)
			n.Deliveries += m.delivered
			n.Lost += lost
			n.Dup += m.dup
			if m.dead {
				n.Closed++
			}
			if !m.dying {
				res.Lost += lost
			}
		}
	}
	el := end.Sub(start).Seconds()
	res.DurationS = el
	res.Broadcasts = int64(sent)
	res.BroadcastsPerSec = float64(sent) / el
	res.Deliveries, res.Dup = st.delivered, st.dup
	res.DeliveriesPerSec = float64(st.delivered) / el
	res.P50us = float64(st.lat.quantile(0.50)) / 1e3
	res.P99us = float64(st.lat.quantile(0.99)) / 1e3
	res.MaxUs = float64(st.lat.max) / 1e3
	res.Errors = st.bad + st.closed
	res.FirstError = st.firstErr
	// /proc reports CPU time in USER_HZ, 100 a second on Linux.
	res.ClientCPUus = float64(cli1-cli0) * 1e4
	if cfg.pid > 0 && srv1 > srv0 {
		res.ServerCPUus = float64(srv1-srv0) * 1e4
		res.CPUusPerDelivery = res.ServerCPUus / float64(max(st.delivered, 1))
	}
	if cfg.brokerPid > 0 {
		res.BrokerCPUus = float64(broker1-broker0) * 1e4
	}
	if len(urls) > 1 || len(cfg.pids) > 0 {
		res.Nodes = nodesOf(urls, cfg.members, nodes0, nodes1, perNode)
	}
	if res.Lost > 0 || res.Dup > 0 || res.Errors > 0 {
		return res, fmt.Errorf("lost %d, duplicated %d, errors %d: %s", res.Lost, res.Dup, res.Errors, res.FirstError)
	}
	return res, nil
}

// nodeTicks returns the CPU time of each process, in clock ticks.
func nodeTicks(pids []int) []int64 {
	ticks := make([]int64, len(pids))
	for i, pid := range pids {
		ticks[i], _ = procstat.CPUTicks(pid)
	}
	return ticks
}

// nodesOf completes the counts of each node (its deliveries, lost,
// duplicated and closed members) with its URL, its members and, with its
// CPU times, its CPU per delivery: a node makes the deliveries to its own
// members. A node whose process is gone (killed) has no CPU figure.
func nodesOf(urls []string, members int, t0, t1 []int64, nodes []fanres.Node) []fanres.Node {
	for i, u := range urls {
		nodes[i].URL, nodes[i].Members = u, membersOf(i, members, len(urls))
		if i < len(t0) && t1[i] > t0[i] && nodes[i].Deliveries > 0 {
			nodes[i].CPUusPerDelivery = float64(t1[i]-t0[i]) * 1e4 / float64(nodes[i].Deliveries)
		}
	}
	return nodes
}

// membersOf returns how many of members the i'th of n servers holds: the
// members go to the servers in turn.
func membersOf(i, members, n int) int {
	k := members / n
	if i < members%n {
		k++
	}
	return k
}

// raiseFileLimit raises the soft limit on open files towards need.
func raiseFileLimit(need uint64) {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur >= need {
		return
	}
	lim.Cur = min(need, lim.Max)
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
}
