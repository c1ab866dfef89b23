package framework_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/framework"
)

// TestFirstMessageInPieces sends the first frames of a connection, which
// the server waits for on its shallow stack (awaitData in netconn.go), cut
// at every byte, with a pause between the pieces, and several frames in
// one write: each message is read whole, and once.
func TestFirstMessageInPieces(t *testing.T) {
	t.Parallel()
	srv := serve(t, quietOptions(framework.Options{}))
	hello := encodeFrame(rawFrame{fin: true, op: opText, payload: []byte("hello")}, false)
	for cut := 1; cut < len(hello); cut++ {
		t.Run(fmt.Sprint("cut ", cut), func(t *testing.T) {
			c := dialRaw(t, srv.Addr, "/echo")
			c.write(hello[:cut])
			time.Sleep(5 * time.Millisecond)
			c.write(hello[cut:])
			c.expectMessage(opText, []byte("hello"))
			c.closeNormally()
		})
	}
	t.Run("three frames and a ping in one write", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, "/echo")
		var b []byte
		for i := range 3 {
			b = append(b, encodeFrame(rawFrame{fin: true, op: opText, payload: fmt.Appendf(nil, "m%d", i)}, false)...)
		}
		b = append(b, encodeFrame(rawFrame{fin: true, op: opPing, payload: []byte("p")}, false)...)
		c.write(b)
		for i := range 3 {
			c.expectMessage(opText, fmt.Appendf(nil, "m%d", i))
		}
		c.closeNormally()
	})
	t.Run("a close frame in two pieces", func(t *testing.T) {
		c := dialRaw(t, srv.Addr, "/echo")
		cl := encodeFrame(rawFrame{fin: true, op: opClose, payload: binary.BigEndian.AppendUint16(nil, 1000)}, false)
		c.write(cl[:3])
		time.Sleep(5 * time.Millisecond)
		c.write(cl[3:])
		c.expectClose(websocket.StatusNormalClosure)
	})
}

// TestWaitHoldsNoBuffer: a connection waiting for its next message holds
// no message buffer, however large its last message was. It waits in
// awaitData, and the heap does not keep a buffer per waiting connection.
// Not parallel: it counts every read loop's wait and measures the heap.
func TestWaitHoldsNoBuffer(t *testing.T) {
	const conns, size = 40, 64 << 10
	srv := serve(t, quietOptions(framework.Options{}))
	msg := bytes.Repeat([]byte{'x'}, size)
	frame := encodeFrame(rawFrame{fin: true, op: opBinary, payload: msg}, false)
	cs := make([]*rawConn, conns)
	for i := range cs {
		cs[i] = dialRaw(t, srv.Addr, "/echo")
	}
	before := settledMemStats().HeapInuse
	for range 2 {
		for _, c := range cs {
			c.write(frame)
			c.expectMessage(opBinary, msg)
		}
	}
	var inReadFrame, inAwait int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		inReadFrame, inAwait = 0, 0
		buf := make([]byte, 8<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			switch {
			case strings.Contains(g, "(*wireConn).readFrame"):
				inReadFrame++
			case strings.Contains(g, "(*wireConn).awaitData") && strings.Contains(g, "(*Conn).nextFast"):
				inAwait++
			}
		}
		if inAwait >= conns {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if inReadFrame > 0 || inAwait < conns {
		t.Errorf("%d read loops wait in readFrame and %d in awaitData; want 0 and %d", inReadFrame, inAwait, conns)
	}
	grown := int(settledMemStats().HeapInuse) - int(before)
	t.Logf("heap in use grew by %d KiB for %d waiting connections", grown>>10, conns)
	if grown > conns*size/4 {
		t.Errorf("the heap grew by %d KiB for %d waiting connections after %d KiB messages; want well under a buffer each", grown>>10, conns, size>>10)
	}
	for _, c := range cs {
		c.closeNormally()
	}
}
