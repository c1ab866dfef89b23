package routes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nowebsocket/nows/cli/internal/discover"
)

func bp(name, body string) discover.File {
	return discover.File{Name: name, Src: []byte("package blueprints\n\nimport \"github.com/nowebsocket/nows/framework\"\n\n" + body)}
}

// table prints a table as "status template handler file:line", one per line.
func table(t *Table) string {
	var b strings.Builder
	for _, r := range t.Routes {
		fmt.Fprintf(&b, "%s %s %s %s\n", r.Status, r.Template, r.Handler, r.Source())
	}
	return b.String()
}

func TestFromFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []discover.File
		want  string
	}{
		{
			name: "sorted by specificity",
			files: []discover.File{
				bp("chat_bp.go", "var Chat = framework.NewBlueprint(\"/chat\",\n\tframework.Route[A](\"/{rest...}\"),\n\tframework.Route[B](\"/{name}\"),\n\tframework.Route[C](\"/{id:int}\"),\n\tframework.Route[D](\"/lobby\"),\n\tframework.Route[E](\"\"),\n)\n"),
			},
			want: "ok /chat E chat_bp.go:10\nok /chat/lobby D chat_bp.go:9\nok /chat/{id:int} C chat_bp.go:8\nok /chat/{name} B chat_bp.go:7\nok /chat/{rest...} A chat_bp.go:6\n",
		},
		{
			// As in Server.Register: B adds no route, so C's /y is no
			// conflict; B's /y is fine by itself and stays ok.
			name: "a conflict is flagged on the later route; its blueprint adds no route",
			files: []discover.File{
				bp("a_bp.go", "var A = framework.NewBlueprint(\"/x\", framework.Route[H](\"/{id:int}\"))\n"),
				bp("b_bp.go", "var B = framework.NewBlueprint(\"\", framework.Route[H](\"/y\"), framework.Route[H](\"/x/{n:int}\"))\n"),
				bp("c_bp.go", "var C = framework.NewBlueprint(\"\", framework.Route[H](\"/y\"))\n"),
			},
			want: "ok /y H b_bp.go:5\nok /y H c_bp.go:5\nok /x/{id:int} H a_bp.go:5\nconflict /x/{n:int} H b_bp.go:5\n",
		},
		{
			name: "invalid and unknown",
			files: []discover.File{
				bp("a_bp.go", "var A = framework.NewBlueprint(\"/a\", framework.Route[H](\"/{x:nope}\"))\nvar B = framework.NewBlueprint(p, framework.Route[H](\"\"))\nvar C = framework.NewBlueprint(\"/c\", routes()...)\n"),
			},
			want: "invalid /a/{x:nope} H a_bp.go:5\nunknown  H a_bp.go:6\nunknown   a_bp.go:7\n",
		},
		{
			name: "constructors: RouteFunc, a variable, WithQueue; file:line inside the body",
			files: []discover.File{
				bp("chat_bp.go", `func Chat(d *Deps) *framework.Blueprint {
	newRoom := func() *Room { return &Room{deps: d} }
	b := framework.NewBlueprint("/chat",
		framework.RouteFunc("", func() *ChatHandler { return &ChatHandler{deps: d} }),
		framework.RouteFunc("/room/{id:int}", newRoom),
		framework.RouteFunc[Lobby]("/lobby", nil).WithQueue(framework.QueueOptions{}),
	)
	return b
}
`),
			},
			want: "ok /chat ChatHandler chat_bp.go:8\nok /chat/lobby Lobby chat_bp.go:10\nok /chat/room/{id:int} Room chat_bp.go:9\n",
		},
		{
			// *framework.Blueprint has no methods: such calls are code for
			// an older framework, shown rather than left out.
			name: "a method call on a blueprint is unknown",
			files: []discover.File{
				bp("chat_bp.go", "var Chat = framework.NewBlueprint(\"/chat\",\n\tframework.Route[A](\"\"),\n).Handle(framework.Route[E](\"/e\"))\n"),
				bp("rooms_bp.go", "func Rooms(d *Deps) *framework.Blueprint {\n\tb := framework.NewBlueprint(\"/rooms\")\n\tb.Handle(framework.Route[L](\"\"))\n\treturn b\n}\n"),
			},
			want: "ok /chat A chat_bp.go:6\nunknown   chat_bp.go:7\nunknown   rooms_bp.go:7\n",
		},
		{
			name: "framework/events routes, WithSubprotocols",
			files: []discover.File{{Name: "chat_bp.go", Src: []byte(`package blueprints

import (
	"github.com/nowebsocket/nows/framework"
	ev "github.com/nowebsocket/nows/framework/events"
)

func Chat(d *Deps) *framework.Blueprint {
	return framework.NewBlueprint("/chat",
		ev.Route[Room]("/room/{id:int}", ev.Handle("chat.send", (*Room).Send), ev.On("typing", (*Room).Typing)),
		ev.RouteFunc("/lobby", func() *Lobby { return &Lobby{deps: d} }, specs...),
		ev.Route[Plain]("/plain").WithSubprotocols("a").WithQueue(framework.QueueOptions{}),
		framework.Route[Old]("/old").WithSubprotocols("b"),
	)
}
`)}},
			want: "ok /chat/lobby Lobby chat_bp.go:11\nok /chat/plain Plain chat_bp.go:12\nok /chat/old Old chat_bp.go:13\nok /chat/room/{id:int} Room chat_bp.go:10\n",
		},
		{
			name: "the paths under /_nows/ are the framework's",
			files: []discover.File{
				bp("a_bp.go", "var A = framework.NewBlueprint(\"/_nows\", framework.Route[H](\"/x\"))\nvar B = framework.NewBlueprint(\"/_nowsy\", framework.Route[H](\"/x\"))\n"),
			},
			want: "ok /_nowsy/x H a_bp.go:6\ninvalid /_nows/x H a_bp.go:5\n",
		},
		{
			name: "a constructor that does not call NewBlueprint itself",
			files: []discover.File{
				bp("a_bp.go", "func A(d *Deps) *framework.Blueprint { return build(d) }\n"),
			},
			want: "unknown   a_bp.go:5\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromFiles(tt.files, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if s := table(got); s != tt.want {
				t.Errorf("got\n%s\nwant\n%s", s, tt.want)
			}
		})
	}
}

// TestFromFilesMethodCall: the problem of a method call on a blueprint
// shows the call as written.
func TestFromFilesMethodCall(t *testing.T) {
	t.Parallel()
	tab, err := FromFiles([]discover.File{
		bp("chat_bp.go", "var Chat = framework.NewBlueprint(\"/chat\", framework.Route[A](\"\")).Handle(framework.Route[E](\"/e\"))\n"),
		bp("rooms_bp.go", "func Rooms(d *Deps) *framework.Blueprint {\n\tb := framework.NewBlueprint(\"/rooms\")\n\tb.Handle(framework.Route[L](\"\"))\n\treturn b\n}\n"),
	}, "blueprints", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tab.Routes {
		if r.Status == Unknown {
			got = append(got, r.Source()+": "+r.Problem)
		}
	}
	want := []string{
		`blueprints/chat_bp.go:5: cannot analyse statically: .Handle(framework.Route[E]("/e")) is not a framework.Route or framework.RouteFunc call`,
		`blueprints/rooms_bp.go:7: cannot analyse statically: b.Handle(framework.Route[L]("")) is not a framework.Route or framework.RouteFunc call`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tab, err := FromFiles([]discover.File{
		bp("chat_bp.go", "var Chat = framework.NewBlueprint(\"/chat\",\n\tframework.Route[Any](\"/{name}\"),\n\tframework.Route[Num](\"/{id:int}\"),\n)\n"),
	}, "blueprints", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, handler, param string }{
		{"/chat/42", "Num", "42"},
		{"/chat/hello world", "Any", "hello world"},
		{"/chat/hello%20world", "Any", "hello world"},
		{"/nowhere", "", ""},
	}
	for _, tt := range tests {
		r, ps, ok := tab.Match(tt.path)
		if tt.handler == "" {
			if ok {
				t.Errorf("Match(%q) = %s, want no match", tt.path, r.Handler)
			}
			continue
		}
		if !ok || r.Handler != tt.handler || ps.Str(r.Params[0].Name) != tt.param {
			t.Errorf("Match(%q): got %v %v %q, want %s %q", tt.path, ok, r, ps.Str("name"), tt.handler, tt.param)
		}
	}
}

// TestFromFilesMistakes: a blueprint that the registry would leave out, or
// a constructor with the wrong signature, fails the table with file:line.
func TestFromFilesMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file discover.File
		err  string
	}{
		{bp("chat.go", "var Chat = framework.NewBlueprint(\"/chat\")\n"),
			"blueprints/chat.go:5: blueprint Chat is declared in a file not named *_bp.go, so the registry would leave it out: rename chat.go to chat_bp.go"},
		{bp("chat_bp.go", "func Chat(prefix string) *framework.Blueprint { return nil }\n"),
			"blueprints/chat_bp.go:5: func Chat(prefix string) *framework.Blueprint returns a blueprint but is not a blueprint constructor, which must be func Chat(d *Deps) *framework.Blueprint"},
	}
	for _, tt := range tests {
		_, err := FromFiles([]discover.File{tt.file}, "blueprints", nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.file.Name, err, tt.err)
		}
	}
}
