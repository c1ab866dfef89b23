package route

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// formatParams writes ps as "name=value(type) ...".
func formatParams(ps Values) string {
	var parts []string
	for name, v := range ps.All() {
		parts = append(parts, fmt.Sprintf("%s=%v(%T)", name, v, v))
	}
	return strings.Join(parts, " ")
}

func TestParams(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "/{s}/{i:int}/{f:float}/{u:uuid}/{h:hex}/{p...}", hexType)
	ps, ok := p.Match("/a%20b/-7/2.5/123E4567-E89B-12D3-A456-426614174000/ff/x/y")
	if !ok {
		t.Fatal("Match: got no match, want a match")
	}
	if got, want := ps.Len(), 6; got != want {
		t.Errorf("Len(): got %d, want %d", got, want)
	}
	if got, want := ps.Names(), []string{"s", "i", "f", "u", "h", "p"}; !slices.Equal(got, want) {
		t.Errorf("Names(): got %v, want %v", got, want)
	}
	strs := []struct{ name, want string }{
		{"s", "a b"},
		{"i", "-7"},
		{"f", "2.5"},
		{"u", "123e4567-e89b-12d3-a456-426614174000"},
		{"h", "ff"},
		{"p", "x/y"},
		{"missing", ""},
	}
	for _, tc := range strs {
		if got := ps.Str(tc.name); got != tc.want {
			t.Errorf("Str(%q): got %q, want %q", tc.name, got, tc.want)
		}
	}
	gets := []struct {
		name string
		want any
		ok   bool
	}{
		{"s", "a b", true},
		{"i", int64(-7), true},
		{"f", 2.5, true},
		{"u", "123e4567-e89b-12d3-a456-426614174000", true},
		{"h", uint64(255), true},
		{"p", "x/y", true},
		{"missing", nil, false},
	}
	for _, tc := range gets {
		got, ok := ps.Get(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Get(%q): got %#v, %v, want %#v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	ints := []struct {
		name string
		want int64
	}{{"i", -7}, {"f", 0}, {"s", 0}, {"h", 0}, {"missing", 0}}
	for _, tc := range ints {
		if got := ps.Int(tc.name); got != tc.want {
			t.Errorf("Int(%q): got %d, want %d", tc.name, got, tc.want)
		}
	}
	floats := []struct {
		name string
		want float64
	}{{"f", 2.5}, {"i", 0}, {"s", 0}, {"missing", 0}}
	for _, tc := range floats {
		if got := ps.Float(tc.name); got != tc.want {
			t.Errorf("Float(%q): got %v, want %v", tc.name, got, tc.want)
		}
	}
	// All stops when asked to.
	n := 0
	for range ps.All() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("All() after break: got %d iterations, want 1", n)
	}
}

func TestParamsZero(t *testing.T) {
	t.Parallel()
	var ps Values
	if got := ps.Len(); got != 0 {
		t.Errorf("Len(): got %d, want 0", got)
	}
	if got := ps.Names(); got != nil {
		t.Errorf("Names(): got %v, want nil", got)
	}
	if got := ps.Str("x"); got != "" {
		t.Errorf("Str: got %q, want \"\"", got)
	}
	if v, ok := ps.Get("x"); v != nil || ok {
		t.Errorf("Get: got %v, %v, want nil, false", v, ok)
	}
	for name := range ps.All() {
		t.Errorf("All(): got %q, want nothing", name)
	}
}
