package framework_test

import (
	"encoding/binary"
	"fmt"
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
