// Package hookcheck finds, at registration, the methods of a handler type
// that are named like a hook but would never be called. Package framework
// checks its hooks with it, and framework/events the same hooks and its
// own OnJoin, so that both report a mistake in the same words.
package hookcheck

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
)

// Hook is one hook: the interface a handler implements to have it, and
// its signature as its doc writes it.
type Hook struct {
	Iface reflect.Type
	Sig   string
}

// Check reports a method of t (a pointer type) named like one of hooks
// that would never be called: another signature (the Python-style
// OnOpen(c) error, say) or another spelling (Onmessage). Like go vet's
// stdmethods check, but at registration, where it cannot be skipped.
func Check(t reflect.Type, hooks map[string]Hook) error {
	for i := range t.NumMethod() {
		m := t.Method(i)
		for name, hook := range hooks {
			switch {
			case !strings.EqualFold(m.Name, name):
			case m.Name != name:
				return fmt.Errorf("method (%v).%s is never called: the hook is spelled %s", t, m.Name, name)
			case !t.Implements(hook.Iface):
				return fmt.Errorf("method (%v).%s has signature %v; want %s", t, m.Name, Signature(m.Type), hook.Sig)
			}
		}
	}
	return nil
}

// Signature formats a method type without its receiver.
func Signature(f reflect.Type) string {
	in := make([]string, 0, f.NumIn())
	for i := 1; i < f.NumIn(); i++ {
		in = append(in, f.In(i).String())
	}
	s := "func(" + strings.Join(in, ", ") + ")"
	switch f.NumOut() {
	case 0:
		return s
	case 1:
		return s + " " + f.Out(0).String()
	}
	out := make([]string, f.NumOut())
	for i := range out {
		out[i] = f.Out(i).String()
	}
	return s + " (" + strings.Join(out, ", ") + ")"
}

// Caller names the caller skip frames above its caller as
// "dir/file.go:line", the declaration site that route errors and
// `nows routes` show.
func Caller(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%s/%s:%d", filepath.Base(filepath.Dir(file)), filepath.Base(file), line)
}
