package framework

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// reservedPrefix starts the paths the framework serves itself; Register
// refuses routes under it.
const reservedPrefix = "/_nows/"

//go:embed js/nows.js js/nows.d.ts
var clientJS embed.FS

// clientFile is one embedded file of the JavaScript client.
type clientFile struct {
	data        []byte
	contentType string
	etag        string
}

var clientFiles = sync.OnceValue(func() map[string]clientFile {
	files := map[string]clientFile{}
	for name, ctype := range map[string]string{
		"nows.js":   "text/javascript; charset=utf-8",
		"nows.d.ts": "application/typescript",
	} {
		data, err := clientJS.ReadFile("js/" + name)
		if err != nil {
			panic("framework: embedded client file: " + err.Error()) // unreachable: embedded
		}
		sum := sha256.Sum256(data)
		files[name] = clientFile{data: data, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return files
})

// serveClientJS answers GET and HEAD for /_nows/nows.js and
// /_nows/nows.d.ts, with an ETag for revalidation; 404 for other paths
// under /_nows/.
func serveClientJS(w http.ResponseWriter, r *http.Request) {
	f, ok := clientFiles()[strings.TrimPrefix(r.URL.Path, reservedPrefix)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: the file changes with the server
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
