package framework

import (
	"testing"
	"unsafe"
)

// Every idle connection holds a Conn and a wireConn: each fits the size
// class of the Go allocator it was made to fit (352 and 512 bytes), so
// that a field added to one shows here, as the per-connection memory
// target of docs/benchmarks.md would only show it in a benchmark.
func TestConnSizes(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 352 {
		t.Errorf("Conn is %d bytes, over the 352-byte size class: the next is 384", n)
	}
	if n := unsafe.Sizeof(wireConn{}); n > 512 {
		t.Errorf("wireConn is %d bytes, over the 512-byte size class: the next is 576", n)
	}
}
