package registry_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nowebsocket/nows/cli/internal/registry"
)

// BenchmarkSync1000 rebuilds the registry of a blueprints package with
// 1,000 blueprint files, as `nows registry` does (the target: well
// under a second). Each iteration removes registry_gen.go so the file is
// really written.
func BenchmarkSync1000(b *testing.B) {
	dir := b.TempDir()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "doc.go"), []byte("// Package blueprints holds the app's blueprints.\npackage blueprints\n\n// Deps is what handlers share.\ntype Deps struct{}\n"), 0o644))
	for i := range 1000 {
		src := fmt.Sprintf(`package blueprints

import (
	"context"

	"github.com/nowebsocket/nows/framework"
)

// B%04d is blueprint number %d.
var B%04d = framework.NewBlueprint("/b%d",
	framework.Route[H%04d](""),
	framework.Route[H%04d]("/{id:int}"),
)

// H%04d echoes.
type H%04d struct{}

// OnMessage echoes text.
func (h *H%04d) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	return c.SendText(ctx, text)
}
`, i, i, i, i, i, i, i, i, i)
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("b%04d_bp.go", i)), []byte(src), 0o644))
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		_ = os.Remove(filepath.Join(dir, "registry_gen.go"))
		b.StartTimer()
		if _, err := registry.Sync(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	gen, err := os.ReadFile(filepath.Join(dir, "registry_gen.go"))
	must(err)
	if n := len(gen); n < 1000*10 {
		b.Fatalf("registry_gen.go is %d bytes: it does not list 1,000 blueprints", n)
	}
}
