package main

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nowebsocket/nows/framework/client"
	"github.com/nowebsocket/nows/framework/history"
)

// TestMemberCounts feeds a member what a client could receive and checks
// what it makes of it: lost, duplicated and reordered messages, and when
// it is done.
func TestMemberCounts(t *testing.T) {
	send := func(m *member, ns ...int) {
		for _, n := range ns {
			b, _ := json.Marshal(strconv.Itoa(n))
			m.message(b)
		}
	}
	fresh := func() *member {
		m := &member{messages: 5, seen: make([]bool, 6)}
		send(m, 0)
		m.recovery(client.Recovery{Room: "bench"}) // the first join: ignored
		m.arm()
		return m
	}

	m := fresh()
	m.recovery(client.Recovery{Room: "bench", Recovered: true})
	send(m, 1, 2, 3, 4)
	if m.complete() || m.doneLocked() {
		t.Fatal("done with 4 of 5 messages")
	}
	send(m, 5)
	if !m.complete() || !m.doneLocked() || m.doneAt.IsZero() || m.err != nil {
		t.Errorf("not done after 5 of 5 in order: %+v", m)
	}

	m = fresh()
	m.recovery(client.Recovery{Room: "bench", Recovered: true})
	send(m, 1, 3, 2, 2, 4, 5)
	if m.dup != 1 || m.reordered != 1 || m.got != 5 || !m.complete() || m.doneLocked() {
		t.Errorf("dup %d, reordered %d, got %d, complete %v, done %v; want 1, 1, 5, true, false", m.dup, m.reordered, m.got, m.complete(), m.doneLocked())
	}

	m = fresh()
	m.recovery(client.Recovery{Room: "bench", Reason: history.ReasonUnavailable})
	if !m.complete() {
		t.Error("a member not recovered waits for the messages it missed")
	}
	send(m, 4, 5)
	res := result(config{clients: 1, messages: 5}, []*member{m}, time.Now())
	if res.Lost != 3 || res.NotRecovered != 1 || res.Done != 0 || res.Errors != 1 || res.TotalMs != 0 {
		t.Errorf("result %+v: want 3 lost, 1 not recovered, none done, 1 error, no total", res)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	if q := quantile(xs, 0.5); q != 5 {
		t.Errorf("p50 %v, want 5", q)
	}
	if q := quantile(xs, 0.99); q != 10 {
		t.Errorf("p99 %v, want 10", q)
	}
	if q := quantile(nil, 0.5); q != 0 {
		t.Errorf("p50 of none %v", q)
	}
}
