// Package blueprints holds the upload example's blueprint: binary messages
// saved as files, as in the on_binary example of NoWebsocket's guide, with
// the size limit and safe file names.
package blueprints

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/nowebsocket/nows/framework"
)

// Upload returns the blueprint that saves files sent over /upload into
// d.Dir. The protocol: an optional text message names the next file; the
// next binary message is its content. The server answers "saved <name>
// (<n> bytes)". On /upload/{name:filename} the path names the first file.
// A message larger than Options.MaxMessageBytes closes the connection with
// 1009 before it is read into memory, so nothing is saved.
//
// Servers of this blueprint list ParseFileName in Options.ParamTypes, as
// "filename". RouteFunc gives each connection's handler the directory,
// with no package-level state; it is made once, at the first upload.
func Upload(d *Deps) *framework.Blueprint {
	dir := sync.OnceValues(func() (dir string, err error) {
		if dir = d.Dir; dir == "" {
			dir, err = os.MkdirTemp("", "nows-upload-")
		} else {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			d.Logger.Info("upload: saving files", "dir", dir)
		}
		return dir, err
	})
	newUploader := func() *Uploader { return &Uploader{deps: d, dir: dir} }
	return framework.NewBlueprint("/upload",
		framework.RouteFunc("", newUploader),
		framework.RouteFunc("/{name:filename}", newUploader),
	)
}

// ParseFileName parses the parameter type "filename": a path segment that
// is already a safe file name (CleanName leaves it unchanged). Any other
// segment does not match, so /upload/..%2Fx gets 404 before the upgrade.
func ParseFileName(seg string) (any, error) {
	if clean, err := CleanName(seg); err != nil || clean != seg {
		return nil, fmt.Errorf("not a safe file name: %q", seg)
	}
	return seg, nil
}

// Uploader is one connection's upload session.
type Uploader struct {
	deps *Deps
	dir  func() (string, error) // where files are saved, made on first use
	next string                 // the name for the next file
}

// OnOpen takes the first file's name from the path, if it has one.
func (h *Uploader) OnOpen(ctx context.Context, c *framework.Conn) error {
	h.next = c.Params().Str("name")
	return nil
}

// OnMessage takes the name of the next file.
func (h *Uploader) OnMessage(ctx context.Context, c *framework.Conn, text string) error {
	name, err := CleanName(text)
	if err != nil {
		return c.SendText(ctx, "error: "+err.Error())
	}
	h.next = name
	return c.SendText(ctx, "next file: "+name)
}

// OnBinary saves a file. A failure to write it closes the connection with
// 1011 and is logged; the client does not see the server's paths.
func (h *Uploader) OnBinary(ctx context.Context, c *framework.Conn, data []byte) error {
	name := h.next
	h.next = ""
	if name == "" {
		name = "upload-" + rand.Text()[:8] + ".bin"
	}
	dir, err := h.dir()
	if err == nil {
		err = save(dir, name, data)
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	h.deps.Logger.Info("upload: saved", "file", filepath.Join(dir, name), "bytes", len(data))
	return c.SendText(ctx, fmt.Sprintf("saved %s (%d bytes)", name, len(data)))
}

// save writes data to dir/name through a temporary file, so that a reader
// never sees half a file. os.Root keeps every access inside dir, even if a
// name slipped through CleanName.
func save(dir, name string, data []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := ".tmp-" + rand.Text()[:8] + "-" + name
	if err := root.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// CleanName turns a client's file name into a safe one: it keeps only the
// last path element (of / and \ paths alike), keeps letters, digits, '.',
// '-' and '_', turns spaces into '_', drops leading dots (no hidden files,
// no "..") and refuses what is left empty or longer than 200 bytes.
func CleanName(name string) (string, error) {
	base := path.Base(strings.ReplaceAll(strings.TrimSpace(name), `\`, "/"))
	var b strings.Builder
	for _, r := range base {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '.', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('_')
		}
	}
	clean := strings.TrimLeft(b.String(), ".")
	switch {
	case clean == "":
		return "", fmt.Errorf("file name %q has no usable characters", name)
	case len(clean) > 200:
		return "", errors.New("file name longer than 200 bytes")
	}
	return clean, nil
}
