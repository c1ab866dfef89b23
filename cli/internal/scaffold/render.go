// Package scaffold renders the embedded templates and writes the result,
// reporting a status for every file (create, identical, conflict, force).
//
// Templates are read from an fs.FS (templates.FS in the binary, a
// fstest.MapFS in tests). The templates of one directory form one
// text/template set, so a file can use a {{define}} of a sibling.
package scaffold

import (
	"bytes"
	"fmt"
	"go/format"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// File is one rendered file.
type File struct {
	Path string // slash-separated, relative to the output root
	Data []byte
}

// Render renders every file under dir in fsys. A name ending in .tmpl is
// executed with data and loses the suffix (a template whose output is
// blank makes no file); other files are copied. Go
// files are formatted with go/format; a template whose output is not valid
// Go is an error naming the template. The files come back sorted by path.
func Render(fsys fs.FS, dir string, data any) ([]File, error) {
	var files []File
	sets := map[string]*template.Template{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if !strings.HasSuffix(p, ".tmpl") {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			files = append(files, File{Path: rel, Data: b})
			return nil
		}
		set, ok := sets[path.Dir(p)]
		if !ok {
			if set, err = parseDir(fsys, path.Dir(p)); err != nil {
				return err
			}
			sets[path.Dir(p)] = set
		}
		b, err := execute(set, p, data)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil // a file for some projects only, such as broker.go
		}
		files = append(files, File{Path: strings.TrimSuffix(rel, ".tmpl"), Data: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// RenderFile renders the one template file name (a path in fsys, such as
// "blueprint/bp.go.tmpl") with the other templates of its directory in
// scope. Output whose name ends in .go.tmpl is formatted as Go unless
// snippet is true (a snippet is formatted later, in the file it joins).
func RenderFile(fsys fs.FS, name string, data any, snippet bool) ([]byte, error) {
	set, err := parseDir(fsys, path.Dir(name))
	if err != nil {
		return nil, err
	}
	if snippet {
		var buf bytes.Buffer
		if err := set.ExecuteTemplate(&buf, path.Base(name), data); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		return buf.Bytes(), nil
	}
	return execute(set, name, data)
}

// parseDir parses every .tmpl file of dir (not its subdirectories) into
// one set whose templates are named by base name.
func parseDir(fsys fs.FS, dir string) (*template.Template, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	set := template.New(dir).Funcs(sprig.HermeticTxtFuncMap()).Option("missingkey=error")
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if _, err := set.New(e.Name()).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("template %s: %w", path.Join(dir, e.Name()), err)
		}
	}
	return set, nil
}

func execute(set *template.Template, name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, path.Base(name), data); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	out := strings.TrimSuffix(name, ".tmpl")
	if path.Ext(out) != ".go" {
		return buf.Bytes(), nil
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("template %s: output is not valid Go: %w", name, err)
	}
	return src, nil
}
