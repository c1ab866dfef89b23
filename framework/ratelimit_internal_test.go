package framework

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	b := tokenBucket{rate: 10, burst: 3, tokens: 3, last: t0}
	steps := []struct {
		ms   int
		n    float64
		want bool
	}{
		{0, 1, true}, {0, 1, true}, {0, 1, true}, // the burst
		{0, 1, false},   // empty
		{50, 1, false},  // half a token
		{150, 1, true},  // 1.5 tokens after 150 ms: take one
		{150, 1, false}, // half left
		{10000, 4, false},
		{10000, 3, true}, // refilled to the burst, not beyond
	}
	for i, s := range steps {
		if got := b.take(s.n, at(s.ms)); got != s.want {
			t.Fatalf("step %d: take(%v) at %d ms: got %v, want %v", i, s.n, s.ms, got, s.want)
		}
	}
	bytes := tokenBucket{rate: 1000, burst: 2000, tokens: 2000, last: t0}
	if got := bytes.takeUpTo(1500, t0); got != 1500 {
		t.Fatalf("takeUpTo(1500): got %d, want 1500", got)
	}
	if got := bytes.takeUpTo(1500, t0); got != 500 {
		t.Fatalf("takeUpTo(1500) with 500 left: got %d, want 500", got)
	}
	if got := bytes.takeUpTo(100, at(50)); got != 50 {
		t.Fatalf("takeUpTo(100) 50 ms later: got %d, want 50", got)
	}
}

func TestClientKey(t *testing.T) {
	testCases := []struct {
		remote, want string
		ok           bool
	}{
		{"192.0.2.7:1234", "192.0.2.7/32", true},
		{"[::ffff:192.0.2.7]:1234", "192.0.2.7/32", true},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64", true},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64", true},
		{"[fe80::1%eth0]:80", "fe80::/64", true},
		{"192.0.2.7", "192.0.2.7/32", true},
		{"@", "", false},
		{"", "", false},
	}
	for _, tc := range testCases {
		got, ok := clientKey(tc.remote)
		if ok != tc.ok || (ok && got.String() != tc.want) {
			t.Errorf("clientKey(%q): got %v, %v, want %s, %v", tc.remote, got, ok, tc.want, tc.ok)
		}
	}
}

func TestConnLimiter(t *testing.T) {
	l := newConnLimiter(3, 2)
	var releases []func()
	for i, remote := range []string{"192.0.2.1:1", "192.0.2.1:2", "192.0.2.2:1"} {
		r, ok := l.acquire(remote)
		if !ok {
			t.Fatalf("acquire %d: refused", i)
		}
		releases = append(releases, r)
	}
	if _, ok := l.acquire("192.0.2.3:1"); ok {
		t.Fatalf("a fourth connection was accepted with MaxConns 3")
	}
	releases[2]()
	if _, ok := l.acquire("192.0.2.1:3"); ok {
		t.Fatalf("a third connection from one address was accepted with MaxConnsPerIP 2")
	}
	if got := l.count(); got != 2 {
		t.Fatalf("count: got %d, want 2", got)
	}
	releases[0]()
	releases[1]()
	if got := l.count(); got != 0 || len(l.byIP) != 0 {
		t.Fatalf("after every release: count %d, %d addresses, want 0, 0", got, len(l.byIP))
	}
}
