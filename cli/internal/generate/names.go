package generate

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

var blueprintName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkBlueprintName checks the name given to nows blueprint add: it names
// the file NAME_bp.go and, in CamelCase, the variable.
func checkBlueprintName(name string) error {
	if blueprintName.MatchString(name) && !strings.HasSuffix(name, "_") && !strings.Contains(name, "__") {
		if strings.HasSuffix(name, "_test") || strings.HasSuffix(name, "_bp") {
			return fmt.Errorf("blueprint name %q: must not end in _test or _bp (the file is named NAME_bp.go)", name)
		}
		return nil
	}
	hint := snake(name)
	if hint != "" && blueprintName.MatchString(hint) {
		return fmt.Errorf("blueprint name %q: use lowercase letters, digits and _, starting with a letter (it names blueprints/NAME_bp.go): try %q", name, hint)
	}
	return fmt.Errorf("blueprint name %q: use lowercase letters, digits and _, starting with a letter (it names blueprints/NAME_bp.go), such as chat or chat_room", name)
}

// checkIdent checks a name given for a Go type or variable.
func checkIdent(what, name string) error {
	if !token.IsIdentifier(name) {
		return fmt.Errorf("%s %q is not a Go identifier: use letters, digits and _, starting with a letter, such as %s", what, name, camel(snake(name), "Room"))
	}
	if !token.IsExported(name) {
		return fmt.Errorf("%s %q: start it with a capital letter (%s) so tests and docs can name it", what, name, camel(name, "Room"))
	}
	return nil
}

// camel turns chat_room into ChatRoom; def when nothing is left.
func camel(s, def string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == '.' || r == '/':
			up = true
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == 0 && unicode.IsDigit(r) {
				continue
			}
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return def
	}
	return b.String()
}

// snake turns ChatRoom or chat-room into chat_room.
func snake(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			prevLower = true
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			prevLower = false
		}
	}
	return strings.Trim(b.String(), "_")
}

// declared returns the package-level names declared in the Go files of dir
// (tests excluded unless tests is set), each with "file:line". Files named
// in skip are ignored.
func declared(dir string, tests bool, skip ...string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") != tests {
			continue
		}
		if slices.Contains(skip, n) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			for _, id := range declNames(decl) {
				names[id.Name] = fmt.Sprintf("%s:%d", n, fset.Position(id.Pos()).Line)
			}
		}
	}
	return names, nil
}

func declNames(decl ast.Decl) []*ast.Ident {
	var ids []*ast.Ident
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			ids = append(ids, d.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				ids = append(ids, s.Name)
			case *ast.ValueSpec:
				ids = append(ids, s.Names...)
			}
		}
	}
	return ids
}
