package wire_test

import (
	"bytes"
	"testing"

	"github.com/nowebsocket/nows/internal/wire"
)

// FuzzDecode: Decode never panics, and what it accepts encodes to an
// envelope that decodes to the same encoding.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event":"chat.send","id":3,"data":{"text":"hi"}}`,
		`{"reply":3,"data":{"id":42}}`,
		`{"reply":3,"error":{"code":"bad_payload","message":"m","event":"e","field":"f"}}`,
		`{"event":"x","id":9007199254740991}`,
		`{"event":"x","reply":1}`, `[]`, `{`, `{"id":01}`, ` {"event":"\u00e9"} `,
		`{"event":"nows.text","data":"hi","room":"lobby","pos":{"epoch":"e","offset":59}}`,
		`{"event":"x","pos":{"epoch":"e","offset":01}}`, `{"reply":1,"data":null,"room":"\u003c"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := wire.Decode(b)
		if err != nil {
			if _, ok := err.(*wire.Error); !ok {
				t.Fatalf("error %T, want *wire.Error", err)
			}
			return
		}
		once := wire.Encode(e)
		e2, err := wire.Decode(once)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v (encoded %s)", b, err, once)
		}
		if twice := wire.Encode(e2); !bytes.Equal(once, twice) {
			t.Fatalf("re-encoding differs:\n%s\n%s", once, twice)
		}
	})
}
