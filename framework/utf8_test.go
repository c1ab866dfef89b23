package framework

import (
	"sync"
	"testing"
	"unicode/utf8"
)

// UTF8Prefix exposes utf8Prefix to the external benchmarks.
var UTF8Prefix = utf8Prefix

// properPrefixes returns every proper, non-empty prefix of the UTF-8
// encoding of every multi-byte character: the truncated sequences that can
// still become valid.
var properPrefixes = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	var buf [utf8.UTFMax]byte
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		for i := 1; i < n; i++ {
			m[string(buf[:i])] = true
		}
	}
	return m
})

// refPrefix is a slow reference for utf8Prefix: the longest valid prefix,
// and whether what follows it can never become valid.
func refPrefix(b []byte) (int, bool) {
	valid := 0
	for i := len(b); i >= 0; i-- {
		if utf8.Valid(b[:i]) {
			valid = i
			break
		}
	}
	tail := b[valid:]
	return valid, len(tail) > 0 && !properPrefixes()[string(tail)]
}

func TestUTF8Prefix(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		in    string
		valid int
		bad   bool
	}{
		{"", 0, false},
		{"hello", 5, false},
		{"κόσμε", 10, false},
		{"a\xe2\x82", 1, false},    // € cut after 2 bytes
		{"a\xe2", 1, false},        // € cut after 1 byte
		{"\xf0\x9f\x99", 0, false}, // 🙂 cut
		{"a\xe2\x82(", 1, true},    // bad continuation
		{"\xff", 0, true},
		{"\xc0\xaf", 0, true}, // overlong
		{"\xc1", 0, true},     // never valid
		{"\xe0\x80", 0, true}, // overlong, even truncated
		{"\xed\xa0", 0, true}, // surrogate, even truncated
		{"\xf4\x90", 0, true}, // above U+10FFFF, even truncated
		{"\xf5", 0, true},     // never valid
		{"ok\x80", 2, true},   // lone continuation
		{"\xf4\x8f\xbf\xbf", 4, false},
		{"\xf4\x8f\xbf", 0, false},
		{"\xe2\x82\xac\xe2\x82", 3, false},
	}
	for _, tc := range testCases {
		valid, bad := utf8Prefix([]byte(tc.in))
		if valid != tc.valid || bad != tc.bad {
			t.Errorf("utf8Prefix(%q) = %d, %v, want %d, %v", tc.in, valid, bad, tc.valid, tc.bad)
		}
		rv, rb := refPrefix([]byte(tc.in))
		if rv != tc.valid || rb != tc.bad {
			t.Errorf("refPrefix(%q) = %d, %v, want %d, %v (the reference is wrong)", tc.in, rv, rb, tc.valid, tc.bad)
		}
	}
}

// Every truncated prefix of every character is accepted as "may complete",
// and every other short sequence is refused.
func TestCouldCompleteExhaustive(t *testing.T) {
	t.Parallel()
	prefixes := properPrefixes()
	check := func(b []byte) {
		if got, want := couldComplete(b), prefixes[string(b)]; got != want {
			t.Fatalf("couldComplete(%x) = %v, want %v", b, got, want)
		}
	}
	for x := range 256 {
		check([]byte{byte(x)})
		if x < 0xc0 {
			continue // not a lead byte: longer sequences are never prefixes
		}
		for y := range 256 {
			check([]byte{byte(x), byte(y)})
			if y < 0x80 || y > 0xbf {
				continue // a bad second byte: longer sequences are never prefixes
			}
			for z := range 256 {
				check([]byte{byte(x), byte(y), byte(z)})
			}
		}
	}
}

// checkIncremental validates b the way the read loop does, fed in chunks
// cut at the given points, and reports whether it was found valid.
func checkIncremental(b []byte, cuts []int) bool {
	checked := 0
	for _, end := range append(cuts, len(b)) {
		valid, bad := utf8Prefix(b[checked:end])
		checked += valid
		if bad {
			return false
		}
	}
	return checked == len(b)
}

func FuzzUTF8Prefix(f *testing.F) {
	for _, s := range []string{"", "hello", "κόσμε", "a\xe2\x82", "\xff", "\xed\xa0\x80", "\xf4\x90\x80\x80", "🙂🙂", "\xe0\x80"} {
		f.Add([]byte(s), uint8(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut1, cut2 uint8) {
		valid, bad := utf8Prefix(b)
		rv, rb := refPrefix(b)
		if valid != rv || bad != rb {
			t.Fatalf("utf8Prefix(%x) = %d, %v, want %d, %v", b, valid, bad, rv, rb)
		}
		if !bad && valid < len(b) && !couldComplete(b[valid:]) {
			t.Fatalf("utf8Prefix(%x) accepts a tail couldComplete refuses", b)
		}
		if len(b) < utf8.UTFMax {
			if got, want := couldComplete(b), properPrefixes()[string(b)]; got != want {
				t.Fatalf("couldComplete(%x) = %v, want %v", b, got, want)
			}
		}
		// Fed in pieces, as the read loop sees a fragmented message.
		cuts := []int{int(cut1) % (len(b) + 1), int(cut2) % (len(b) + 1)}
		if cuts[1] < cuts[0] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		if got, want := checkIncremental(b, cuts), utf8.Valid(b); got != want {
			t.Fatalf("incremental check of %x cut at %v = %v, want %v", b, cuts, got, want)
		}
	})
}
