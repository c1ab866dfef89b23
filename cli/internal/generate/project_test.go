package generate

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMoveIntoRollsBack: when a file cannot be moved into an existing
// directory (nows new --force), the files already moved are taken back
// and those they replaced restored: the directory is left as it was.
func TestMoveIntoRollsBack(t *testing.T) {
	t.Parallel()
	stage, target := t.TempDir(), t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(stage, "a.txt"), "new a")
	write(filepath.Join(stage, "b", "new.txt"), "new b")
	write(filepath.Join(stage, "z"), "a file where target has a directory")
	write(filepath.Join(target, "a.txt"), "old a")
	write(filepath.Join(target, "z", "keep.txt"), "old z")

	if err := moveInto(stage, target, true); err == nil {
		t.Fatal("moveInto: no error, want one (z is a directory in target)")
	}
	for name, want := range map[string]string{"a.txt": "old a", "z/keep.txt": "old z"} {
		if got, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(got) != want {
			t.Errorf("target/%s: got %q, %v, want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(target, "b", "new.txt")); err == nil {
		t.Error("target/b/new.txt was left behind")
	}

	// Without the obstacle, every file is moved and the old ones replaced.
	if err := os.RemoveAll(filepath.Join(target, "z")); err != nil {
		t.Fatal(err)
	}
	if err := moveInto(stage, target, true); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.txt": "new a", "b/new.txt": "new b", "z": "a file where target has a directory"} {
		if got, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(got) != want {
			t.Errorf("target/%s: got %q, %v, want %q", name, got, err, want)
		}
	}
}
