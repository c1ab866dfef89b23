package blueprints_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/coder/websocket"
	"github.com/nowebsocket/nows/examples/upload/blueprints"
	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// options are the server options of the upload blueprint: it needs the
// filename parameter type.
var options = framework.Options{ParamTypes: map[string]func(string) (any, error){"filename": blueprints.ParseFileName}}

// upload is the blueprint as main makes it, saving into dir, with the
// handlers' logs in t.Log.
func upload(t *testing.T, dir string) *framework.Blueprint {
	return blueprints.Upload(&blueprints.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Dir: dir})
}

func TestUploadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := wstest.NewServerOptions(t, options, upload(t, dir))
	c := srv.Dial(t, "/upload")

	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)
	c.SendText("../../etc/round trip.bin")
	c.ExpectText("next file: round_trip.bin")
	c.SendBinary(data)
	c.ExpectText("saved round_trip.bin (4000 bytes)")
	got, err := os.ReadFile(filepath.Join(dir, "round_trip.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("saved file differs from what was sent (%d bytes, want %d)", len(got), len(data))
	}

	// Without a name, the server makes one up.
	c.SendBinary([]byte("hello"))
	reply := c.ReadText()
	m := regexp.MustCompile(`^saved (upload-[A-Z2-7]{8}\.bin) \(5 bytes\)$`).FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("got %q, want saved upload-XXXXXXXX.bin (5 bytes)", reply)
	}
	if got, err := os.ReadFile(filepath.Join(dir, m[1])); err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v; want hello", got, err)
	}

	c.SendText("...")
	c.ExpectText(`error: file name "..." has no usable characters`)
	c.Close()
}

// TestUploadDir checks where files go: a --dir that does not exist yet is
// made at the first upload, and no --dir means a new temporary directory.
func TestUploadDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where os.MkdirTemp makes the temporary directory
	nested := filepath.Join(tmp, "a", "b")
	srv := wstest.NewServerOptions(t, options, upload(t, nested))
	c := srv.Dial(t, "/upload/one.txt")
	c.SendBinary([]byte("1"))
	c.ExpectText("saved one.txt (1 bytes)")
	c.Close()
	if got, err := os.ReadFile(filepath.Join(nested, "one.txt")); err != nil || string(got) != "1" {
		t.Fatalf("got %q, %v; want 1 in %s", got, err, nested)
	}

	srv = wstest.NewServerOptions(t, options, upload(t, ""))
	c = srv.Dial(t, "/upload/two.txt")
	c.SendBinary([]byte("2"))
	c.ExpectText("saved two.txt (1 bytes)")
	c.Close()
	found, _ := filepath.Glob(filepath.Join(tmp, "nows-upload-*", "two.txt"))
	if len(found) != 1 {
		t.Fatalf("got %v, want one %s/nows-upload-*/two.txt", found, tmp)
	}
}

func TestUploadNameInPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := wstest.NewServerOptions(t, options, upload(t, dir))
	c := srv.Dial(t, "/upload/notes-1.txt")
	c.SendBinary([]byte("first"))
	c.ExpectText("saved notes-1.txt (5 bytes)")
	c.Close()

	// A segment that is not a safe name does not match the route: 404.
	for _, path := range []string{"/upload/..", "/upload/.env", "/upload/a%2Fb", "/upload/a%20b"} {
		_, resp, err := srv.DialOptions(t, path, nil)
		if err == nil || resp == nil || resp.StatusCode != 404 {
			t.Errorf("%s: got %v, want 404", path, resp)
		}
	}
}

func TestUploadLimit(t *testing.T) {
	t.Parallel()
	opts := options
	opts.MaxMessageBytes = 1024
	dir := t.TempDir()
	srv := wstest.NewServerOptions(t, opts, upload(t, dir))

	c := srv.Dial(t, "/upload")
	c.SendText("exact.bin")
	c.ExpectText("next file: exact.bin")
	c.SendBinary(make([]byte, 1024))
	c.ExpectText("saved exact.bin (1024 bytes)")

	c.SendText("too-big.bin")
	c.ExpectText("next file: too-big.bin")
	c.SendBinary(make([]byte, 1025))
	c.ExpectClose(websocket.StatusMessageTooBig)
	if _, err := os.Stat(filepath.Join(dir, "too-big.bin")); !os.IsNotExist(err) {
		t.Fatalf("too-big.bin: got %v, want it not to exist", err)
	}
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		in, want string // want "" means an error
	}{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`..\..\windows\win.ini`, "win.ini"},
		{"/abs/path/photo.jpg", "photo.jpg"},
		{".hidden", "hidden"},
		{"my file (1).txt", "my_file_1.txt"},
		{"日志 2025.txt", "日志_2025.txt"},
		{"  padded.txt  ", "padded.txt"},
		{"a/b/", "b"},
		{"..", ""},
		{"", ""},
		{"/", ""},
		{"$%&", ""},
		{string(bytes.Repeat([]byte("a"), 201)), ""},
	}
	for _, tc := range testCases {
		got, err := blueprints.CleanName(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("CleanName(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
