// Package fanres is the result of cmd/fanout, which prints it as JSON and
// which cmd/benchrun and cmd/cluster read.
package fanres

// Result is what `fanout -json` prints: one run of the fan-out load
// client, against one server or the nodes of a cluster.
type Result struct {
	Members          int     `json:"members"`
	Size             int     `json:"size"`
	Rate             float64 `json:"rate"`
	DurationS        float64 `json:"duration_s"`
	Broadcasts       int64   `json:"broadcasts"`
	Skipped          int64   `json:"skipped"`
	BroadcastsPerSec float64 `json:"broadcasts_per_sec"`
	Deliveries       int64   `json:"deliveries"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	Lost             int64   `json:"lost"`
	Dup              int64   `json:"dup"`
	P50us            float64 `json:"p50_us"`
	P99us            float64 `json:"p99_us"`
	MaxUs            float64 `json:"max_us"`
	ServerCPUus      float64 `json:"server_cpu_us,omitempty"`
	CPUusPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
	ClientCPUus      float64 `json:"client_cpu_us"`
	// BrokerCPUus is the broker process's CPU time while sending (fanout
	// -broker-pid), measured in clock ticks of 10 ms.
	BrokerCPUus float64 `json:"broker_cpu_us,omitempty"`
	Nodes       []Node  `json:"nodes,omitempty"`
	// Dying is the 1-based node killed during the run (fanout -dying), or
	// 0: its members' losses, duplicates and closes are in its Node, not
	// in Lost, Dup and Errors.
	Dying      int     `json:"dying,omitempty"`
	SetupS     float64 `json:"setup_s"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
}

// Node is one server of several: its members, what they got, and its CPU
// per delivery (of the deliveries to its own members).
type Node struct {
	URL              string  `json:"url"`
	Members          int     `json:"members"`
	Deliveries       int64   `json:"deliveries"`
	Lost             int64   `json:"lost"`
	Dup              int64   `json:"dup"`
	Closed           int64   `json:"closed"` // members closed by the server
	CPUusPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
}
