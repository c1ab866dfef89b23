package framework

import "strconv"

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

// ParksSoFar returns how many times a connection was parked in this
// process (none elsewhere than on Linux).
func ParksSoFar() uint64 { return parksSoFar() }

// AddIdleMembers puts n members in room on h's node, each a connection
// that is never served: a node with many memberships, for the presence
// tests. Nothing may be broadcast to room.
func AddIdleMembers(h *Hub, room string, n int) {
	h.use()
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.rooms[room]
	if set == nil {
		set = make(map[*Conn]struct{})
		h.rooms[room] = set
	}
	for i := range n {
		c := &Conn{}
		c.hs.Store(&connState{id: h.newConnID(), user: "idle-" + strconv.Itoa(i), rooms: map[string]struct{}{room: {}}})
		set[c] = struct{}{}
	}
}

// SetHistMaxPending sets how many entries of a room with history h's
// node keeps waiting for a missing one (histMaxPending); call it before
// the room's first member joins.
func SetHistMaxPending(h *Hub, n int) { h.hist.maxPending = n }

// HistSkipped returns how many gaps in rooms with history h's node gave
// up on.
func HistSkipped(h *Hub) uint64 { return h.hist.skipped.Load() }
