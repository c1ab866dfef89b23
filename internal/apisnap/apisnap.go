// Package apisnap lists the exported API of Go packages, one feature a line,
// in the format of the Go project's api/*.txt files, and measures its size.
//
// Packages are type-checked from the export data that `go list -export`
// leaves in the build cache, so no dependency outside the standard library
// is needed; with a warm build cache a listing takes a fraction of a second.
package apisnap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Load type-checks the packages that the go list patterns name, resolved
// in dir, and returns them sorted by path. Main packages are left out.
func Load(dir string, patterns ...string) ([]*types.Package, error) {
	args := append([]string{"list", "-e", "-deps", "-export",
		"-json=ImportPath,Name,Export,DepOnly,Error"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	type listed struct {
		ImportPath, Name, Export string
		DepOnly                  bool
		Error                    *struct{ Err string }
	}
	exports := map[string]string{}
	var roots []string
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %v", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
		if !p.DepOnly && p.Name != "main" {
			roots = append(roots, p.ImportPath)
		}
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(exports[path])
	})
	slices.Sort(roots)
	pkgs := make([]*types.Package, len(roots))
	for i, path := range roots {
		if pkgs[i], err = imp.Import(path); err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

// PublicDirs returns the directories of the public packages of the module
// rooted at root, as go list patterns ("./framework"): every directory with
// non-test Go files, skipping internal, testdata and vendor directories,
// directories that start with "." or "_", nested modules and the top-level
// cli and examples trees. Main packages are left for [Load] to drop.
func PublicDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		name := d.Name()
		if rel != "." {
			switch {
			case name == "internal", name == "testdata", name == "vendor",
				strings.HasPrefix(name, "."), strings.HasPrefix(name, "_"),
				rel == "cli", rel == "examples":
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		goFiles, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return err
		}
		if slices.ContainsFunc(goFiles, func(f string) bool { return !strings.HasSuffix(f, "_test.go") }) {
			dirs = append(dirs, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	return dirs, err
}

// Module loads the public packages of the module rooted at root; see
// [PublicDirs].
func Module(root string) ([]*types.Package, error) {
	dirs, err := PublicDirs(root)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, errors.New("no public packages under " + root)
	}
	return Load(root, dirs...)
}

// Features returns the exported API of pkgs, sorted, one line a feature in
// the format of the Go project's api files:
//
//	pkg example.com/m/p, func New(Options) *Server
//	pkg example.com/m/p, method (*Server) Close() error
//	pkg example.com/m/p, type Options struct, Addr string
//	pkg example.com/m/p, type Handler interface { OnOpen }
//	pkg example.com/m/p, type Handler interface, OnOpen(context.Context) error
//	pkg example.com/m/p, const Drop Policy
//	pkg example.com/m/p, const Drop = 0
//	pkg example.com/m/p, var ErrClosed error
//
// Methods include those promoted from embedded fields; type parameters are
// written $0, $1, ... as their names are not part of the API.
func Features(pkgs ...*types.Package) []string {
	var lines []string
	for _, pkg := range pkgs {
		w := &writer{pkg: pkg}
		for _, name := range pkg.Scope().Names() {
			if token.IsExported(name) {
				w.object(pkg.Scope().Lookup(name))
			}
		}
		lines = append(lines, w.lines...)
	}
	slices.Sort(lines)
	return lines
}

// Counts is the size of an exported API, in declarations: Methods are the
// exported methods declared on exported types; interface methods, counted
// with their type, and promoted methods are not counted.
type Counts struct {
	Funcs, Methods, Types, Consts, Vars int
}

// Count measures the exported API of pkgs.
func Count(pkgs ...*types.Package) Counts {
	var c Counts
	for _, pkg := range pkgs {
		for _, name := range pkg.Scope().Names() {
			if !token.IsExported(name) {
				continue
			}
			switch obj := pkg.Scope().Lookup(name).(type) {
			case *types.Func:
				c.Funcs++
			case *types.Const:
				c.Consts++
			case *types.Var:
				c.Vars++
			case *types.TypeName:
				c.Types++
				if named, ok := obj.Type().(*types.Named); ok && !obj.IsAlias() {
					for m := range named.Methods() {
						if m.Exported() {
							c.Methods++
						}
					}
				}
			}
		}
	}
	return c
}

// writer collects the features of one package.
type writer struct {
	pkg   *types.Package
	lines []string
}

func (w *writer) emit(scope, format string, args ...any) {
	w.lines = append(w.lines, "pkg "+w.pkg.Path()+", "+scope+fmt.Sprintf(format, args...))
}

func (w *writer) object(obj types.Object) {
	switch obj := obj.(type) {
	case *types.Const:
		w.emit("", "const %s %s", obj.Name(), w.typeString(obj.Type()))
		if short, exact := obj.Val().String(), obj.Val().ExactString(); short == exact {
			w.emit("", "const %s = %s", obj.Name(), short)
		} else {
			w.emit("", "const %s = %s  // %s", obj.Name(), short, exact)
		}
	case *types.Var:
		w.emit("", "var %s %s", obj.Name(), w.typeString(obj.Type()))
	case *types.Func:
		w.emit("", "func %s%s", obj.Name(), w.signatureString(obj.Signature()))
	case *types.TypeName:
		w.typeName(obj)
	}
}

func (w *writer) typeName(obj *types.TypeName) {
	name := obj.Name()
	if obj.IsAlias() {
		w.emit("", "type %s = %s", name, w.typeString(obj.Type()))
		return
	}
	named := obj.Type().(*types.Named)
	if tparams := named.TypeParams(); tparams.Len() > 0 {
		var buf bytes.Buffer
		buf.WriteString(name)
		w.writeTypeParams(&buf, tparams, true)
		name = buf.String()
	}
	switch u := named.Underlying().(type) {
	case *types.Struct:
		w.emit("", "type %s struct", name)
		scope := "type " + name + " struct, "
		for f := range u.Fields() {
			switch {
			case !f.Exported():
			case f.Embedded():
				w.emit(scope, "embedded %s", w.typeString(f.Type()))
			default:
				w.emit(scope, "%s %s", f.Name(), w.typeString(f.Type()))
			}
		}
	case *types.Interface:
		w.iface(name, u)
		return // the methods are the interface's
	default:
		w.emit("", "type %s %s", name, w.typeString(u))
	}
	// The method set of *T holds those of T; list each method once.
	seen := map[string]bool{}
	for _, recv := range []types.Type{named, types.NewPointer(named)} {
		mset := types.NewMethodSet(recv)
		for i := range mset.Len() {
			m := mset.At(i)
			if m.Obj().Exported() && !seen[m.Obj().Name()] {
				seen[m.Obj().Name()] = true
				w.method(m)
			}
		}
	}
}

// iface writes interface type name: a line per method and a line with the
// method names and, unlike the Go project's tool, the type set terms of a
// constraint ("interface { ~int | ~float64 }").
func (w *writer) iface(name string, typ *types.Interface) {
	scope := "type " + name + " interface, "
	var names []string
	mset := types.NewMethodSet(typ)
	for i := range mset.Len() {
		m := mset.At(i).Obj().(*types.Func)
		if m.Exported() {
			names = append(names, m.Name())
			w.emit(scope, "%s%s", m.Name(), w.signatureString(m.Signature()))
		}
	}
	if len(names) < mset.Len() {
		// Only this package can implement it, so it may grow.
		w.emit(scope, "unexported methods")
		return
	}
	slices.Sort(names)
	if parts := append(names, w.embeddedTerms(typ)...); len(parts) > 0 {
		w.emit("", "type %s interface { %s }", name, strings.Join(parts, ", "))
	} else {
		w.emit("", "type %s interface {}", name)
	}
}

func (w *writer) method(m *types.Selection) {
	sig := m.Type().(*types.Signature)
	tps := ""
	if rtp := sig.RecvTypeParams(); rtp.Len() > 0 {
		var buf bytes.Buffer
		w.writeTypeParams(&buf, rtp, false)
		tps = buf.String()
	}
	w.emit("", "method (%s%s) %s%s", w.typeString(sig.Recv().Type()), tps, m.Obj().Name(), w.signatureString(sig))
}

func (w *writer) typeString(typ types.Type) string {
	var buf bytes.Buffer
	w.writeType(&buf, typ)
	return buf.String()
}

func (w *writer) signatureString(sig *types.Signature) string {
	var buf bytes.Buffer
	w.writeSignature(&buf, sig)
	return buf.String()
}

// writeType writes typ as the Go project's api tool does: other packages'
// types qualified by package name, byte and rune as uint8 and int32,
// untyped constants as ideal-int etc., aliases resolved, struct and
// interface literals abridged.
func (w *writer) writeType(buf *bytes.Buffer, typ types.Type) {
	switch typ := typ.(type) {
	case *types.Basic:
		buf.WriteString(basicName(typ))
	case *types.Array:
		fmt.Fprintf(buf, "[%d]", typ.Len())
		w.writeType(buf, typ.Elem())
	case *types.Slice:
		buf.WriteString("[]")
		w.writeType(buf, typ.Elem())
	case *types.Struct:
		buf.WriteString("struct")
	case *types.Pointer:
		buf.WriteByte('*')
		w.writeType(buf, typ.Elem())
	case *types.Signature:
		buf.WriteString("func")
		w.writeSignature(buf, typ)
	case *types.Interface:
		var parts []string
		for m := range typ.Methods() {
			parts = append(parts, m.Name())
		}
		slices.Sort(parts)
		parts = append(parts, w.embeddedTerms(typ)...)
		if len(parts) == 0 {
			buf.WriteString("interface{}")
		} else {
			buf.WriteString("interface{ " + strings.Join(parts, ", ") + " }")
		}
	case *types.Map:
		buf.WriteString("map[")
		w.writeType(buf, typ.Key())
		buf.WriteByte(']')
		w.writeType(buf, typ.Elem())
	case *types.Chan:
		buf.WriteString(map[types.ChanDir]string{
			types.SendOnly: "chan<- ", types.RecvOnly: "<-chan ", types.SendRecv: "chan ",
		}[typ.Dir()])
		w.writeType(buf, typ.Elem())
	case *types.Alias:
		w.writeType(buf, types.Unalias(typ))
	case *types.Named:
		if pkg := typ.Obj().Pkg(); pkg != nil && pkg != w.pkg {
			buf.WriteString(pkg.Name() + ".")
		}
		buf.WriteString(typ.Obj().Name())
		if targs := typ.TypeArgs(); targs.Len() > 0 {
			buf.WriteByte('[')
			for i := range targs.Len() {
				if i > 0 {
					buf.WriteString(", ")
				}
				w.writeType(buf, targs.At(i))
			}
			buf.WriteByte(']')
		}
	case *types.TypeParam:
		// Type parameter names may change; their places may not.
		fmt.Fprintf(buf, "$%d", typ.Index())
	default:
		panic(fmt.Sprintf("apisnap: unexpected type %T", typ))
	}
}

// basicName names a basic type as the api files do.
func basicName(typ *types.Basic) string {
	switch typ.Kind() {
	case types.UnsafePointer:
		return "unsafe.Pointer"
	case types.UntypedBool:
		return "ideal-bool"
	case types.UntypedInt:
		return "ideal-int"
	case types.UntypedRune:
		return "ideal-char" // sic, as in the Go project's files
	case types.UntypedFloat:
		return "ideal-float"
	case types.UntypedComplex:
		return "ideal-complex"
	case types.UntypedString:
		return "ideal-string"
	case types.Byte:
		return "uint8"
	case types.Rune:
		return "int32"
	}
	return typ.Name()
}

// embeddedTerms returns the sorted type-set terms of the constraint
// interface typ ("~[]$1", "int | string"); embedded interfaces add their own.
func (w *writer) embeddedTerms(typ *types.Interface) []string {
	var list []string
	for emb := range typ.EmbeddedTypes() {
		switch emb := emb.(type) {
		case *types.Interface:
			list = append(list, w.embeddedTerms(emb)...)
		case *types.Union:
			var buf bytes.Buffer
			for i := range emb.Len() {
				if i > 0 {
					buf.WriteString(" | ")
				}
				if emb.Term(i).Tilde() {
					buf.WriteByte('~')
				}
				w.writeType(&buf, emb.Term(i).Type())
			}
			list = append(list, buf.String())
		}
	}
	slices.Sort(list)
	return list
}

func (w *writer) writeSignature(buf *bytes.Buffer, sig *types.Signature) {
	if tparams := sig.TypeParams(); tparams.Len() > 0 {
		w.writeTypeParams(buf, tparams, true)
	}
	w.writeParams(buf, sig.Params(), sig.Variadic())
	switch res := sig.Results(); res.Len() {
	case 0:
	case 1:
		buf.WriteByte(' ')
		w.writeType(buf, res.At(0).Type())
	default:
		buf.WriteByte(' ')
		w.writeParams(buf, res, false)
	}
}

func (w *writer) writeTypeParams(buf *bytes.Buffer, tparams *types.TypeParamList, withConstraints bool) {
	buf.WriteByte('[')
	for i := range tparams.Len() {
		tp := tparams.At(i)
		if i > 0 {
			buf.WriteString(", ")
		}
		w.writeType(buf, tp)
		if withConstraints {
			buf.WriteByte(' ')
			w.writeType(buf, tp.Constraint())
		}
	}
	buf.WriteByte(']')
}

func (w *writer) writeParams(buf *bytes.Buffer, t *types.Tuple, variadic bool) {
	buf.WriteByte('(')
	for i := range t.Len() {
		if i > 0 {
			buf.WriteString(", ")
		}
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			buf.WriteString("...")
			typ = typ.(*types.Slice).Elem()
		}
		w.writeType(buf, typ)
	}
	buf.WriteByte(')')
}
