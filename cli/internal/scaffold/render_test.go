package scaffold

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files fstest.MapFS
		want  map[string]string
		err   string
	}{
		{
			name: "go is formatted, suffix dropped, others copied, defines shared, blank output makes no file",
			files: fstest.MapFS{
				"p/main.go.tmpl":  {Data: []byte("package main\n{{ template \"x\" . }}\n")},
				"p/defs.txt.tmpl": {Data: []byte("{{ define \"x\" }}var   A = {{ .N | quote }}{{ end }}")},
				"p/static/a.html": {Data: []byte("{{ not a template }}")},
			},
			want: map[string]string{
				"main.go":       "package main\n\nvar A = \"n\"\n",
				"static/a.html": "{{ not a template }}",
			},
		},
		{
			name:  "invalid Go names the template",
			files: fstest.MapFS{"p/bad.go.tmpl": {Data: []byte("package main\nfunc {\n")}},
			err:   "template p/bad.go.tmpl: output is not valid Go",
		},
		{
			name:  "missing key",
			files: fstest.MapFS{"p/a.txt.tmpl": {Data: []byte("{{ .Missing }}")}},
			err:   "template p/a.txt.tmpl:",
		},
		{
			name:  "no env in hermetic functions",
			files: fstest.MapFS{"p/a.txt.tmpl": {Data: []byte(`{{ env "HOME" }}`)}},
			err:   `function "env" not defined`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := Render(tt.files, "p", map[string]string{"N": "n"})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(tt.want) {
				t.Fatalf("got %d files, want %d", len(files), len(tt.want))
			}
			for _, f := range files {
				if want, ok := tt.want[f.Path]; !ok || string(f.Data) != want {
					t.Errorf("%s: got %q, want %q", f.Path, f.Data, want)
				}
			}
		})
	}
}
