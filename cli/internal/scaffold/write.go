package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/nowebsocket/nows/cli/internal/ui"
)

// ErrConflict is returned by Apply when a file exists with other content
// and Force is not set.
var ErrConflict = errors.New("file exists with other content")

// Options controls Apply and Remove.
type Options struct {
	Force  bool   // overwrite files whose content differs
	Update bool   // the files are edits of existing ones: write them with status update
	DryRun bool   // print statuses and diffs, write nothing
	Show   string // prefix for the paths shown (such as "myapp/"); files are still written under root
}

// Apply writes files under root. It compares every file with what is on
// disk first: when one differs and Force is not set, it reports every
// conflict, writes nothing and returns an error wrapping ErrConflict.
// Unchanged files are not rewritten. Each file is written to a temporary
// file and renamed, so a failure never leaves a file half-written.
func Apply(u *ui.UI, root string, files []File, opt Options) error {
	type plan struct {
		f      File
		status ui.Status
		old    []byte
	}
	plans := make([]plan, 0, len(files))
	var conflicts []string
	for _, f := range files {
		old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			plans = append(plans, plan{f, ui.Create, nil})
		case err != nil:
			return err
		case bytes.Equal(old, f.Data):
			plans = append(plans, plan{f, ui.Identical, old})
		case opt.Update:
			plans = append(plans, plan{f, ui.Update, old})
		case opt.Force:
			plans = append(plans, plan{f, ui.Force, old})
		default:
			plans = append(plans, plan{f, ui.Conflict, old})
			conflicts = append(conflicts, opt.Show+f.Path)
		}
	}
	if len(conflicts) > 0 {
		for _, p := range plans {
			if p.status == ui.Conflict {
				u.Status(ui.Conflict, opt.Show+p.f.Path)
			}
		}
		return fmt.Errorf("%w: %s (run again with --force to overwrite, or --dry-run to see the difference)",
			ErrConflict, strings.Join(conflicts, ", "))
	}
	for _, p := range plans {
		u.Status(p.status, opt.Show+p.f.Path)
		if opt.DryRun {
			if p.status != ui.Identical {
				printDiff(u, opt.Show+p.f.Path, p.old, p.f.Data, p.status == ui.Create)
			}
			continue
		}
		if p.status == ui.Identical {
			continue
		}
		if err := WriteFile(filepath.Join(root, filepath.FromSlash(p.f.Path)), p.f.Data); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the files under root, reporting each; missing files are
// skipped.
func Remove(u *ui.UI, root string, paths []string, opt Options) error {
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if _, err := os.Stat(full); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		u.Status(ui.Remove, opt.Show+p)
		if opt.DryRun {
			continue
		}
		if err := os.Remove(full); err != nil {
			return err
		}
	}
	return nil
}

// Diff returns a unified diff from old to new for the file name; created
// diffs from /dev/null.
func Diff(name string, old, new []byte, created bool) []byte {
	from := "a/" + name
	if created {
		from = "/dev/null"
	}
	return diff.Diff(from, old, "b/"+name, new)
}

func printDiff(u *ui.UI, name string, old, new []byte, created bool) {
	u.Out().Write(Diff(name, old, new, created))
}

// WriteFile writes data to name through a temporary file in the same
// directory and a rename, creating the directory if needed.
func WriteFile(name string, data []byte) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".nows-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
