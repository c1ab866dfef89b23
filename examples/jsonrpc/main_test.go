package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

// TestMainRoutes runs main with --routes: the flags parse, the blueprints
// register, and the route table is printed instead of serving.
func TestMainRoutes(t *testing.T) {
	got := runMain(t, "--routes", "--log-level", "error")
	if want := "/rpc Session\n"; got != want {
		t.Fatalf("got routes\n%s\nwant\n%s", got, want)
	}
}

// runMain runs main once with args (flag.CommandLine can be parsed once per
// process) and returns its route table as "template handler" lines.
func runMain(t *testing.T, args ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	oldArgs, oldStdout := os.Args, os.Stdout
	os.Args, os.Stdout = append([]string{"jsonrpc"}, args...), w
	defer func() { os.Args, os.Stdout = oldArgs, oldStdout }()
	out := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); out <- b }()
	main()
	w.Close()
	var lines strings.Builder
	dec := json.NewDecoder(strings.NewReader(string(<-out)))
	for dec.More() {
		var route struct{ Template, Handler string }
		if err := dec.Decode(&route); err != nil {
			t.Fatal(err)
		}
		lines.WriteString(route.Template + " " + route.Handler + "\n")
	}
	return lines.String()
}
