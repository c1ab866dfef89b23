package framework

// Counters the tests read; their public form belongs to the observation
// point, not to Hub and Conn.

// HubStats returns the hub's counters.
func HubStats(h *Hub) hubStats { return h.stats() }

// QueueStats returns the counters of c's send queue.
func QueueStats(c *Conn) queueStats { return c.queueStats() }

// OptionsOf returns the server's options with the defaults filled in.
func OptionsOf(s *Server) Options { return s.opts }

// Parked reports whether c waits with no goroutine (park_linux.go).
func Parked(c *Conn) bool {
	k := c.wire.parkKey.Load()
	return k != 0 && k != parkClosed
}
