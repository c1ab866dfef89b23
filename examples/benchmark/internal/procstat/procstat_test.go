package procstat

import (
	"os"
	"testing"
	"time"
)

// The process's own CPU time grows while it spins, and no process is 0.
func TestCPUTicks(t *testing.T) {
	before, err := CPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
	}
	after, err := CPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU ticks %d then %d after 200 ms of spinning, want more", before, after)
	}
	if n, err := CPUTicks(0); n != 0 || err != nil {
		t.Errorf("pid 0: %d, %v; want 0, nil", n, err)
	}
}
