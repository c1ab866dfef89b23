package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/cli/internal/discover"
)

// deps is the file declaring type Deps that every package needs.
var deps = discover.File{Name: "deps.go", Src: []byte("package blueprints\n\ntype Deps struct{}\n")}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []discover.File
		want  string // the body of All
		err   string
	}{
		{
			name: "none",
			want: "\treturn nil\n",
		},
		{
			name: "sorted by file then declaration",
			files: []discover.File{
				{Name: "ChatBp.go", Src: []byte("package blueprints\nimport fw \"github.com/nowebsocket/nows/framework\"\nvar (\n\tB = fw.NewBlueprint(\"/b\")\n\tA = fw.NewBlueprint(\"/a\", fw.Route[H](\"\"))\n)\n")},
				{Name: "echo_bp.go", Src: []byte("package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar Echo = framework.NewBlueprint(\"/echo\")\nvar notOne = 3\n")},
			},
			want: "\treturn []*framework.Blueprint{\n\t\tB,    // ChatBp.go\n\t\tA,    // ChatBp.go\n\t\tEcho, // echo_bp.go\n\t}\n",
		},
		{
			// *framework.Blueprint has no methods: the variable is listed,
			// so that the build names the call, not left out.
			name: "a method call chained on NewBlueprint",
			files: []discover.File{
				{Name: "a_bp.go", Src: []byte("package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar A = framework.NewBlueprint(\"/a\").Handle(framework.Route[H](\"\"))\n")},
			},
			want: "\treturn []*framework.Blueprint{\n\t\tA, // a_bp.go\n\t}\n",
		},
		{
			name: "dot import",
			files: []discover.File{
				{Name: "x_bp.go", Src: []byte("package blueprints\nimport . \"github.com/nowebsocket/nows/framework\"\nvar X = NewBlueprint(\"/x\")\n")},
			},
			want: "\treturn []*framework.Blueprint{\n\t\tX, // x_bp.go\n\t}\n",
		},
		{
			name: "not the framework",
			files: []discover.File{
				{Name: "x_bp.go", Src: []byte("package blueprints\nimport framework \"example.com/other\"\nvar X = framework.NewBlueprint(\"/x\")\n")},
			},
			want: "\treturn nil\n",
		},
		{
			name: "duplicate",
			files: []discover.File{
				{Name: "a_bp.go", Src: []byte("package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar X = framework.NewBlueprint(\"/a\")\n")},
				{Name: "b_bp.go", Src: []byte("package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar X = framework.NewBlueprint(\"/b\")\n")},
			},
			err: "b_bp.go:3: blueprint X is also declared in a_bp.go:3",
		},
		{
			name:  "syntax error",
			files: []discover.File{{Name: "a_bp.go", Src: []byte("package blueprints\nvar X = \n")}},
			err:   "a_bp.go:2:10: expected operand",
		},
		{
			name: "constructors are called with d, variables listed as they are",
			files: []discover.File{
				{Name: "chat_bp.go", Src: []byte(fw + "func Chat(d *Deps) *framework.Blueprint {\n\treturn framework.NewBlueprint(\"/chat\")\n}\nvar Lobby = framework.NewBlueprint(\"/lobby\")\nfunc helper() int { return 1 }\n")},
				{Name: "rooms_bp.go", Src: []byte(fw + "func Rooms(*Deps) *framework.Blueprint { return framework.NewBlueprint(\"/rooms\") }\n")},
				{Name: "util.go", Src: []byte(fw + "func base(p string) *framework.Blueprint { return framework.NewBlueprint(p) }\n")},
			},
			want: "\treturn []*framework.Blueprint{\n\t\tChat(d),  // chat_bp.go\n\t\tLobby,    // chat_bp.go\n\t\tRooms(d), // rooms_bp.go\n\t}\n",
		},
		{
			name: "a constructor with another signature",
			files: []discover.File{
				{Name: "upload_bp.go", Src: []byte(fw + "\n// Upload saves files.\nfunc Upload(dir string) *framework.Blueprint {\n\treturn framework.NewBlueprint(\"/upload\")\n}\n")},
			},
			err: "blueprints/upload_bp.go:5: func Upload(dir string) *framework.Blueprint returns a blueprint but is not a blueprint constructor, which must be func Upload(d *Deps) *framework.Blueprint",
		},
		{
			name: "an unexported constructor",
			files: []discover.File{
				{Name: "chat_bp.go", Src: []byte(fw + "func chat(d *Deps) (*framework.Blueprint, error) { return nil, nil }\n")},
			},
			err: "blueprints/chat_bp.go:3: func chat(d *Deps) (*framework.Blueprint, error) returns a blueprint but is not a blueprint constructor, which must be func Chat(d *Deps) *framework.Blueprint (exported;",
		},
		{
			name: "a blueprint variable outside a blueprint file",
			files: []discover.File{
				{Name: "chat.go", Src: []byte(fw + "\nvar Chat = framework.NewBlueprint(\"/chat\")\n")},
			},
			err: "blueprints/chat.go:4: blueprint Chat is declared in a file not named *_bp.go, so the registry would leave it out: rename chat.go to chat_bp.go (or move Chat into a *_bp.go file)",
		},
		{
			name: "a constructor outside a blueprint file",
			files: []discover.File{
				{Name: "rooms.go", Src: []byte(fw + "func Rooms(d *Deps) *framework.Blueprint { return framework.NewBlueprint(\"/rooms\") }\n")},
			},
			err: "blueprints/rooms.go:3: blueprint constructor Rooms is declared in a file not named *_bp.go, so the registry would leave it out: rename rooms.go to rooms_bp.go",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Generate("blueprints", append(tt.files, deps))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Header + "\n\npackage blueprints\n\nimport \"github.com/nowebsocket/nows/framework\"\n\n" +
				"// All returns every blueprint declared in this package's *_bp.go and *Bp.go\n" +
				"// files, sorted by file name: the variables as they are, the constructors\n" +
				"// (func X(d *Deps) *framework.Blueprint) called with d.\n" +
				"func All(d *Deps) []*framework.Blueprint {\n" + tt.want + "}\n"
			if string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

const fw = "package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\n"

// TestGenerateWithoutDeps: All takes *Deps, so a package without the type
// is an error that says what to add, naming the first constructor.
func TestGenerateWithoutDeps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		files []discover.File
		err   string
	}{
		{nil, "package blueprints has no type Deps: All(d *Deps), in registry_gen.go, takes the app's dependencies"},
		{
			[]discover.File{
				{Name: "a_bp.go", Src: []byte(fw + "var A = framework.NewBlueprint(\"/a\")\n")},
				{Name: "chat_bp.go", Src: []byte(fw + "\nfunc Chat(d *Deps) *framework.Blueprint { return framework.NewBlueprint(\"/chat\") }\n")},
			},
			"package blueprints has no type Deps: blueprint constructor Chat (blueprints/chat_bp.go:4) takes *Deps",
		},
	}
	for _, tt := range tests {
		_, err := Generate("blueprints", tt.files)
		if err == nil || !strings.Contains(err.Error(), tt.err) ||
			!strings.Contains(err.Error(), `add blueprints/deps.go with "package blueprints" and "type Deps struct{}"`) {
			t.Errorf("got error %v, want %q and the fix", err, tt.err)
		}
	}
}

func TestSyncAndCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("doc.go", "package blueprints\n")
	write("deps.go", string(deps.Src))
	if err := Check(dir); !errors.Is(err, ErrStale) {
		t.Fatalf("Check without the file: got %v, want ErrStale", err)
	}
	for i, want := range []Result{Created, Unchanged} {
		got, err := Sync(dir)
		if err != nil || got != want {
			t.Fatalf("Sync #%d: got %v, %v, want %v", i, got, err, want)
		}
	}
	if err := Check(dir); err != nil {
		t.Fatalf("Check after Sync: %v", err)
	}
	write("chat_bp.go", "package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar Chat = framework.NewBlueprint(\"/chat\")\n")
	write("chat_bp_test.go", "package blueprints\nimport \"github.com/nowebsocket/nows/framework\"\nvar T = framework.NewBlueprint(\"/t\")\n")
	if err := Check(dir); !errors.Is(err, ErrStale) {
		t.Fatalf("Check with a new blueprint: got %v, want ErrStale", err)
	}
	if got, err := Sync(dir); err != nil || got != Updated {
		t.Fatalf("Sync: got %v, %v, want Updated", got, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Chat, // chat_bp.go") || strings.Contains(string(b), "T,") {
		t.Errorf("registry lists the wrong blueprints:\n%s", b)
	}
}

func TestIsBlueprintFile(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"chat_bp.go": true, "ChatBp.go": true, "chat_bp_test.go": false, "ChatBp_test.go": false,
		"Bp.go": false, "chat.go": false, "registry_gen.go": false, "chat_bp.go.orig": false,
	} {
		if got := discover.IsBlueprintFile(name); got != want {
			t.Errorf("IsBlueprintFile(%q) = %v, want %v", name, got, want)
		}
	}
}
