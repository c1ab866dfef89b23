package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// command sends one inline command to addr over a fresh TCP connection
// and returns the first line of the reply, without its CRLF.
func command(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\r\n"), err
}

// TestStopRestart: the server answers PING; once stopped nothing listens
// on its port; restarted, it answers on the same port, empty.
func TestStopRestart(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || s.URL() != "redis://"+s.Addr() {
		t.Fatalf("Addr() = %q, URL() = %q; want 127.0.0.1:port and redis://127.0.0.1:port", s.Addr(), s.URL())
	}
	if got, err := command(s.Addr(), "PING"); got != "+PONG" || err != nil {
		t.Fatalf("PING = %q, %v; want +PONG", got, err)
	}
	if got, err := command(s.Addr(), "SET k v"); got != "+OK" || err != nil {
		t.Fatalf("SET = %q, %v; want +OK", got, err)
	}
	s.Stop()
	if got, err := command(s.Addr(), "PING"); err == nil {
		t.Fatalf("PING after Stop = %q; want a refused connection", got)
	}
	s.Stop() // a second Stop does nothing
	addr := s.Addr()
	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Addr() after Restart = %s, want %s", s.Addr(), addr)
	}
	if got, err := command(s.Addr(), "PING"); got != "+PONG" || err != nil {
		t.Fatalf("PING after Restart = %q, %v; want +PONG", got, err)
	}
	if got, err := command(s.Addr(), "EXISTS k"); got != ":0" || err != nil {
		t.Fatalf("EXISTS k after Restart = %q, %v; want :0 (no persistence)", got, err)
	}
}

// TestArgs: Start's args reach redis-server.
func TestArgs(t *testing.T) {
	s := Start(t, "--databases", "2")
	if got, err := command(s.Addr(), "SELECT 1"); got != "+OK" || err != nil {
		t.Fatalf("SELECT 1 = %q, %v; want +OK", got, err)
	}
	if got, err := command(s.Addr(), "SELECT 2"); !strings.HasPrefix(got, "-ERR") || err != nil {
		t.Fatalf("SELECT 2 with --databases 2 = %q, %v; want an -ERR", got, err)
	}
}

// recorder is a testing.TB that records how Start ended the test.
type recorder struct {
	testing.TB
	ended string // "fatal: ..." or "skip: ..."
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.ended = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.ended = "skip: " + fmt.Sprint(args...)
	runtime.Goexit()
}

// TestMissing: without redis-server on PATH, Start skips the test, but
// fails it in CI (CI=true).
func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for ci, want := range map[string]string{
		"":     "skip: redis-server not installed",
		"true": "fatal: redis-server is required in CI",
	} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(r)
		}()
		<-done
		if !strings.HasPrefix(r.ended, want) {
			t.Errorf("CI=%q: Start ended the test with %q, want %q...", ci, r.ended, want)
		}
	}
}
