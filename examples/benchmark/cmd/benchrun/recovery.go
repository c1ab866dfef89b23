package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nowebsocket/nows/examples/benchmark/internal/procstat"
	"github.com/nowebsocket/nows/examples/benchmark/internal/recres"
	"github.com/nowebsocket/nows/framework"
)

const (
	historyPkg  = "./servers/history"
	recoveryPkg = "./cmd/recovery"
	// recWindow is the room's history window: more than the probe and
	// the messages missed, so that every client can recover.
	recWindow = 1000
)

// recoveryScenario is the recovery scenario: clients in one room with
// history, messages missed while the server is down.
func recoveryScenario(p params) scenario {
	return scenario{
		id: "recovery", kind: "recovery",
		title:   fmt.Sprintf("recovery, %s clients × %d missed messages", fmtCount(p.recClients), p.recMessages),
		titleZH: fmt.Sprintf("恢复，%s 个客户端 × %d 条错过的消息", fmtCount(p.recClients), p.recMessages),
		args:    []string{"-clients", fmt.Sprint(p.recClients), "-messages", fmt.Sprint(p.recMessages)},
	}
}

// fmtCount formats a count with thousands separators from 1,000.
func fmtCount(n int) string {
	if n >= 1000 {
		return groupThousands(fmt.Sprint(n))
	}
	return fmt.Sprint(n)
}

// needRedis returns why the recovery scenario cannot run, or nil.
func needRedis() error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("the recovery scenario needs redis-server (apt-get install redis-server), or leave it out with -only: %w", err)
	}
	return nil
}

// runRecovery runs the recovery scenario once: a redis-server, the
// history server and the load client (cmd/recovery); once the clients
// have the probe, it kills the server, publishes msgs messages, starts the
// server again on the same address and waits for the client's result.
func runRecovery(ctx context.Context, sc scenario, msgs int, bin, loadBin string, tck int64) (sample, error) {
	rs, err := startRedis(ctx)
	if err != nil {
		return sample{}, err
	}
	defer rs.stop()
	rdb, redisURL := rs.rdb, "redis://"+rs.rdb.Options().Addr
	srv, err := startServer(ctx, benchServer{name: "history"}, bin, "--redis", redisURL)
	if err != nil {
		return sample{}, err
	}
	running := srv
	defer func() { running.stop() }()
	load, err := startLoad(ctx, loadBin, append(append([]string{}, sc.args...), "ws://"+srv.addr+"/events"))
	if err != nil {
		return sample{}, err
	}
	defer load.stop()
	pub := framework.NewHub(framework.HubOptions{History: recres.History(rdb, recWindow)})
	defer pub.Close()

	if err := load.expect("joined"); err != nil {
		return sample{}, err
	}
	if err := pub.Broadcast(ctx, recres.Room, framework.Text("0")); err != nil {
		return sample{}, fmt.Errorf("publish the probe: %w", err)
	}
	if err := load.expect("ready"); err != nil {
		return sample{}, err
	}
	srv.kill()
	for i := 1; i <= msgs; i++ {
		if err := pub.Broadcast(ctx, recres.Room, framework.Text(strconv.Itoa(i))); err != nil {
			return sample{}, fmt.Errorf("publish while the server is down: %w", err)
		}
	}
	before, err := measure(ctx, rs, 0)
	if err != nil {
		return sample{}, err
	}
	if running, err = restartServer(ctx, srv, bin, "--redis", redisURL); err != nil {
		running = srv // stopped already: stop is harmless
		return sample{}, err
	}
	if _, err := fmt.Fprintf(load.stdin, "up %d\n", time.Now().UnixNano()); err != nil {
		return sample{}, fmt.Errorf("recovery: %w", err)
	}
	res, err := load.result()
	if err != nil {
		return sample{}, err
	}
	after, err := measure(ctx, rs, running.pid)
	if err != nil {
		return sample{}, err
	}
	return recSample(res, after.sub(before), tck), nil
}

// counters are what the recovery scenario reads before the restart and
// after the recovery: Redis's script calls, and the CPU time of Redis and
// of the server (0 before: it is not running). The load client measures
// its own.
type counters struct {
	scripts, redisCPU, serverCPU int64
}

func (c counters) sub(d counters) counters {
	return counters{c.scripts - d.scripts, c.redisCPU - d.redisCPU, c.serverCPU - d.serverCPU}
}

// measure reads the counters; serverPid 0 is none.
func measure(ctx context.Context, rs *redisServer, serverPid int) (counters, error) {
	var c counters
	var errs [3]error
	c.scripts, errs[0] = scriptCalls(ctx, rs.rdb)
	c.redisCPU, errs[1] = procstat.CPUTicks(rs.cmd.Process.Pid)
	c.serverCPU, errs[2] = procstat.CPUTicks(serverPid)
	return c, errors.Join(errs[:]...)
}

// recSample turns the load client's result and the counters' change over
// the recovery (CPU in clock ticks of tck a second) into the run's sample.
func recSample(res recres.Result, d counters, tck int64) sample {
	ms := func(ticks int64) float64 { return float64(ticks) * 1000 / float64(tck) }
	smp := sample{
		RecServerCPUms: ms(d.serverCPU), RecRedisCPUms: ms(d.redisCPU), RecLoadCPUms: ms(res.CPUTicks),
		RecTotalMs: res.TotalMs, RecP50Ms: res.P50Ms, RecP99Ms: res.P99Ms,
		RecAttemptP50Ms: res.AttemptP50Ms, RecAttemptP99Ms: res.AttemptP99Ms,
		RecMessages: res.Recovered, RecClients: int64(res.Clients), RecDone: int64(res.Done),
		StoreReads: d.scripts, NotRecovered: res.NotRecovered,
		Lost: res.Lost, Dup: res.Dup + res.Reordered, Errors: res.Errors, Note: res.FirstError,
	}
	if res.Done < res.Clients && smp.Errors == 0 {
		smp.Errors++
		smp.Note = fmt.Sprintf("%d of %d clients did not recover every message", res.Clients-res.Done, res.Clients)
	}
	return smp
}

// scriptCalls returns the Lua script calls Redis has served (EVALSHA and
// EVAL, from INFO commandstats): the history store's reads and appends.
func scriptCalls(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return parseScriptCalls(info), nil
}

// parseScriptCalls sums the calls of cmdstat_evalsha and cmdstat_eval in
// the text of INFO commandstats.
func parseScriptCalls(info string) int64 {
	var n int64
	for line := range strings.SplitSeq(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "cmdstat_evalsha" && name != "cmdstat_eval" {
			continue
		}
		for f := range strings.SplitSeq(stats, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
	}
	return n
}

// redisServer is a running redis-server and a client of it.
type redisServer struct {
	cmd *exec.Cmd
	rdb *redis.Client
}

func (rs *redisServer) stop() {
	_ = rs.rdb.Close()
	_ = rs.cmd.Process.Kill()
	_ = rs.cmd.Wait()
}

// startRedis starts a redis-server on a free port of 127.0.0.1, without
// persistence.
func startRedis(ctx context.Context) (*redisServer, error) {
	if err := needRedis(); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	rs := &redisServer{cmd: cmd, rdb: redis.NewClient(&redis.Options{Addr: addr})}
	deadline := time.Now().Add(10 * time.Second)
	for rs.rdb.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) || ctx.Err() != nil {
			rs.stop()
			return nil, fmt.Errorf("redis-server not answering on %s within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rs, nil
}

// loadProc is the running cmd/recovery, driven through its standard input
// and output.
type loadProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its standard output, line by line
}

// loadTimeout bounds the wait for each line of cmd/recovery (its own
// steps are bounded by 60 s each).
const loadTimeout = 90 * time.Second

func startLoad(ctx context.Context, bin string, args []string) (*loadProc, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start recovery: %w", err)
	}
	l := &loadProc{cmd: cmd, stdin: stdin, lines: make(chan string)}
	go func() {
		defer close(l.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
	}()
	return l, nil
}

// next returns the load client's next line.
func (l *loadProc) next() (string, error) {
	select {
	case line, ok := <-l.lines:
		if !ok {
			return "", errors.New("recovery exited early (its error is above)")
		}
		return line, nil
	case <-time.After(loadTimeout):
		return "", fmt.Errorf("recovery said nothing for %s", loadTimeout)
	}
}

func (l *loadProc) expect(want string) error {
	line, err := l.next()
	if err == nil && line != want {
		err = fmt.Errorf("recovery said %q, want %q", line, want)
	}
	return err
}

func (l *loadProc) result() (recres.Result, error) {
	var res recres.Result
	line, err := l.next()
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return res, fmt.Errorf("recovery output: %w: %s", err, line)
	}
	return res, nil
}

// stop closes its input, which ends it if it still waits for "up", and
// waits for it; it is killed if still running after WaitDelay.
func (l *loadProc) stop() {
	_ = l.stdin.Close()
	done := make(chan struct{})
	go func() {
		for range l.lines {
		}
		_ = l.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = l.cmd.Process.Kill()
		<-done
	}
}

// restartServer starts the killed server s again on its address, and
// returns once it listens.
func restartServer(ctx context.Context, s *server, bin string, args ...string) (*server, error) {
	return startServerAt(ctx, benchServer{name: s.name}, bin, s.addr, args...)
}
