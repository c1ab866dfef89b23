package redishistory

import "time"

// SetHealth shortens the feed's health checks for the stall test.
func SetHealth(s *Store, ping, stall time.Duration) {
	s.pingAfter, s.stallAfter = ping, stall
}
