// Command chat serves the WebSocket routes of ./blueprints and a test page
// at /. go run . -help lists its flags: the address, every limit (also as
// NOWS_* variables) and the app's own settings (blueprints/deps.go). Its
// metrics and dashboard are at http://127.0.0.1:8766/ (--admin-addr). Its
// rooms keep their last 100 messages, which a client that comes back
// recovers: in memory, or, with --broker nats://127.0.0.1:4222, in the
// JetStream of that server, where every node sharing it finds them.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
	"github.com/nowebsocket/nows/framework/history"

	"chat/blueprints"
)

//go:embed static
var static embed.FS

func main() {
	var opts framework.Options
	opts.MaxMessageBytes = 64 << 10  // a chat's messages are small, and each room keeps 100 of them
	opts.BindFlags(flag.CommandLine) // --addr and every limit, also as NOWS_* variables
	adm := admin.New(&opts)          // /metrics and the dashboard on --admin-addr (127.0.0.1:8766)
	adm.BindFlags(flag.CommandLine)
	deps := &blueprints.Deps{} // what the handlers share: blueprints/deps.go
	deps.BindFlags(flag.CommandLine)
	level := new(slog.LevelVar)
	flag.TextVar(level, "log-level", level, "log `level`: debug, info, warn or error")
	brokerURL := flag.String("broker", os.Getenv("NOWS_BROKER"), "share rooms through the NATS server at `URL` (env NOWS_BROKER; default: this process alone)")
	flag.Parse()
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	deps.Logger = opts.Logger
	// Every room keeps its last 100 messages of the last hour: a client back
	// within them gets what it missed. In this process's memory, unless
	// useBroker moves them to JetStream.
	opts.Hub.History = history.Config{Store: history.NewMemory(), Rooms: map[string]history.Limits{"*": {Size: 100, TTL: time.Hour}}}
	closeBroker, err := useBroker(&opts, *brokerURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats:", err)
		os.Exit(1)
	}
	defer closeBroker()

	page, _ := fs.Sub(static, "static")
	mux := http.NewServeMux() // what matches no WebSocket route: the test page
	mux.Handle("GET /", http.FileServerFS(page))
	opts.Fallback = mux
	srv := framework.NewServer(opts)
	mux.HandleFunc("GET /routes.json", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(srv.Routes()) })
	if err := adm.Run(context.Background(), srv, blueprints.All(deps)...); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}
