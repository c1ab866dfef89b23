// Package recres is what the programs of the benchmark's recovery
// scenario share: the room and its history in Redis (servers/history
// serves it, cmd/benchrun publishes to it while the server is down), and
// the result cmd/recovery prints as JSON for cmd/benchrun.
package recres

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nowebsocket/nows/framework/history"
	"github.com/nowebsocket/nows/framework/history/redishistory"
)

// Room is the room of the scenario.
const Room = "bench"

// History is the room's history in rdb, a window of size messages: the
// server's and the publisher's, which must be the same.
func History(rdb redis.UniversalClient, size int) history.Config {
	return history.Config{
		Store: redishistory.New(rdb, redishistory.Options{}),
		Rooms: map[string]history.Limits{Room: {Size: size, TTL: time.Hour}},
	}
}

// Result is what cmd/recovery prints once its clients have recovered the
// messages published while the server was down, or its -timeout passed.
// Times are in milliseconds from the moment the restarted server listened
// (benchrun's "up" line), or from each client's own successful attempt.
type Result struct {
	Clients  int `json:"clients"`
	Messages int `json:"messages"` // published while the server was down
	// Done counts the clients that received every message, exactly once,
	// in order, after a join with Recovered true.
	Done int `json:"done"`
	// Recovered counts the messages received after the restart, in all.
	Recovered int64 `json:"recovered"`
	Lost      int64 `json:"lost"`
	Dup       int64 `json:"dup"`
	Reordered int64 `json:"reordered"`
	// NotRecovered counts the joins after the restart with Recovered
	// false, and the nows.unrecovered notices.
	NotRecovered int64 `json:"not_recovered"`
	// TotalMs is until the last client had every message.
	TotalMs float64 `json:"total_ms"`
	// P50Ms and P99Ms are per client, from the restart to its last
	// message.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// AttemptP50Ms and AttemptP99Ms are per client, from the start of its
	// successful reconnect attempt to its last message: the reconnect
	// delay left out.
	AttemptP50Ms float64 `json:"attempt_p50_ms"`
	AttemptP99Ms float64 `json:"attempt_p99_ms"`
	// CPUTicks is cmd/recovery's CPU time from "up" to the result, in
	// clock ticks (getconf CLK_TCK).
	CPUTicks   int64  `json:"cpu_ticks"`
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}
