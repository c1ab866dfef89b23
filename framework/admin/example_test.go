package admin_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/nowebsocket/nows/framework"
	"github.com/nowebsocket/nows/framework/admin"
)

// An admin listener beside a server. An app's main calls adm.Run(ctx,
// srv, blueprints...) instead of Start, after adm.BindFlags and
// flag.Parse; here it listens on a free port.
func ExampleNew() {
	var opts framework.Options
	opts.Logger = slog.New(slog.DiscardHandler)
	adm := admin.New(&opts)  // opts.Observer: the listener's metrics
	adm.Addr = "127.0.0.1:0" // else 127.0.0.1:8766, or --admin-addr with BindFlags
	srv := framework.NewServer(opts)
	if err := srv.Register(framework.NewBlueprint("", framework.Route[echoHandler]("/echo"))); err != nil {
		panic(err)
	}
	stop, err := adm.Start(srv)
	if err != nil {
		panic(err)
	}
	defer stop()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + adm.Addr + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "nows_connections") {
			fmt.Println(sc.Text())
		}
	}
	// Output: nows_connections{route="/echo"} 0
}
