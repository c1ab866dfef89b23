package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestParseScriptCalls(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=1012,usec=51234,usec_per_call=50.63,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_eval:calls=3,usec=400,usec_per_call=133.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_evalsha_ro:calls=7,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=9,usec=90,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n"
	if got := parseScriptCalls(info); got != 1015 {
		t.Errorf("script calls %d, want 1015 (evalsha and eval only)", got)
	}
}

// TestRecoveryScenario runs the scenario for real, small: a redis-server,
// the history server and 20 clients that miss 10 messages. Every client
// must get all of them back, once, after a recovered join, the store read
// at least once per client.
func TestRecoveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	if err := needRedis(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, load := filepath.Join(dir, "history"), filepath.Join(dir, "recovery")
	for out, pkg := range map[string]string{bin: "../../" + historyPkg, load: "../../" + recoveryPkg} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	sc := recoveryScenario(params{recClients: 20, recMessages: 10})
	smp, err := runRecovery(ctx, sc, 10, bin, load, clockTicks())
	if err != nil {
		t.Fatal(err)
	}
	if smp.Errors != 0 || smp.Lost != 0 || smp.Dup != 0 || smp.NotRecovered != 0 {
		t.Errorf("errors %d (%s), lost %d, dup %d, not recovered %d; want none", smp.Errors, smp.Note, smp.Lost, smp.Dup, smp.NotRecovered)
	}
	if smp.RecClients != 20 || smp.RecDone != 20 || smp.RecMessages != 200 {
		t.Errorf("%d of %d clients recovered %d messages, want 20 of 20 and 200", smp.RecDone, smp.RecClients, smp.RecMessages)
	}
	if smp.StoreReads < 20 {
		t.Errorf("%d store reads for 20 joins with a position", smp.StoreReads)
	}
	if !(smp.RecTotalMs > 0 && smp.RecP50Ms <= smp.RecP99Ms && smp.RecP99Ms <= smp.RecTotalMs) {
		t.Errorf("times: total %v ms, p50 %v, p99 %v", smp.RecTotalMs, smp.RecP50Ms, smp.RecP99Ms)
	}
}
