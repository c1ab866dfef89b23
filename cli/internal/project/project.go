// Package project finds a nows project on disk (its root, module and
// blueprints directory) and the nows checkout a new project can use.
package project

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// NowsModule is the module path of nows.
const NowsModule = "github.com/nowebsocket/nows"

// Project is a project made by nows new (or laid out like one).
type Project struct {
	Root       string // the directory holding go.mod
	Module     string // its module path
	Blueprints string // Root/blueprints
}

// ErrNotFound is returned by Find outside a project.
var ErrNotFound = errors.New("not inside a nows project (no go.mod with a blueprints directory here or above)")

// Find returns the project holding dir: the nearest directory at or above
// dir with a go.mod and a blueprints directory. From inside blueprints/
// (where go generate runs nows registry) it finds the project above.
func Find(dir string) (*Project, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := dir; ; d = filepath.Dir(d) {
		mod, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			bp := filepath.Join(d, "blueprints")
			if fi, err := os.Stat(bp); err == nil && fi.IsDir() {
				return &Project{Root: d, Module: ModulePath(mod), Blueprints: bp}, nil
			}
		}
		if filepath.Dir(d) == d {
			return nil, ErrNotFound
		}
	}
}

// ModulePath returns the module path declared in a go.mod file, or "".
func ModulePath(gomod []byte) string {
	return directive(gomod, "module")
}

// GoVersion returns the go directive of a go.mod file, or "".
func GoVersion(gomod []byte) string {
	return directive(gomod, "go")
}

func directive(gomod []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Require returns the version of module path required in a go.mod file,
// or "".
func Require(gomod []byte, path string) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}

// IsCheckout reports whether dir is the root of a nows checkout.
func IsCheckout(dir string) bool {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && ModulePath(mod) == NowsModule
}

// Source says where a new project gets nows from.
type Source struct {
	// Checkout is the absolute path of a nows checkout for a replace
	// directive, or "".
	Checkout string
	// Version is the version of nows to require: the binary's own when it
	// was installed from a published module, else the zero pseudo-version
	// used with a replace.
	Version string
	// How says how the source was found, for the user.
	How string
}

// ZeroVersion is the version required when a replace directive supplies nows.
const ZeroVersion = "v0.0.0-00010101000000-000000000000"

// FindSource decides where a new project gets nows from: dev (the --dev
// flag) when given; else the checkout the running binary was built from,
// found by walking up from the executable and from the source path
// recorded in the binary; else the published version in the binary's
// build information. It returns an error saying what to do when none
// applies.
func FindSource(dev string) (Source, error) {
	if dev != "" {
		abs, err := filepath.Abs(dev)
		if err != nil {
			return Source{}, err
		}
		if !IsCheckout(abs) {
			return Source{}, fmt.Errorf("--dev %s: not a nows checkout (want a go.mod with module %s)", dev, NowsModule)
		}
		return Source{Checkout: abs, Version: ZeroVersion, How: "--dev"}, nil
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			if dir, ok := checkoutAbove(filepath.Dir(exe)); ok {
				return Source{Checkout: dir, Version: ZeroVersion, How: "the checkout nows was built in"}, nil
			}
		}
	}
	// The path of this file as compiled (absent with -trimpath).
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir, ok := checkoutAbove(filepath.Dir(file)); ok {
			return Source{Checkout: dir, Version: ZeroVersion, How: "the checkout nows was built from"}, nil
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == NowsModule &&
		bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return Source{Version: bi.Main.Version, How: "nows " + bi.Main.Version}, nil
	}
	return Source{}, errors.New("cannot tell where the new project should get nows from: " +
		"this nows binary was not built from a checkout that still exists, and nows is not published; " +
		"pass --dev PATH with the path of a checkout of " + NowsModule)
}

func checkoutAbove(dir string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		if IsCheckout(d) {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}
