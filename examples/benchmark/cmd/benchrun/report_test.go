package main

import (
	"strings"
	"testing"
	"time"
)

func TestFanoutScenarios(t *testing.T) {
	p := params{dur: time.Second, idle: 10, handshakes: 10, fanDur: 4 * time.Second, fanLoad: 50000, fanMembers: []int{1000, 5000}}
	var ids []string
	for _, sc := range scenarios(p) {
		if selected("fanout", sc) {
			ids = append(ids, sc.id)
			if sc.kind != "fanout" {
				t.Errorf("%s: kind %s", sc.id, sc.kind)
			}
		}
	}
	if got, want := strings.Join(ids, ","), "fan1kx64,fan1kx4k,fan5kx64,fan5kx4k"; got != want {
		t.Fatalf("-only fanout picks %s, want %s", got, want)
	}
	sc := scenarios(p)[len(scenarios(p))-1]
	if got := strings.Join(sc.args, " "); got != "-members 5000 -size 4096 -rate 10 -duration 4s" {
		t.Errorf("fan5kx4k args: %s", got)
	}
}

func TestFanoutReport(t *testing.T) {
	p := params{dur: time.Second, fanDur: 4 * time.Second, fanLoad: 50000, fanMembers: []int{1000}}
	var scens []scenario
	for _, sc := range scenarios(p) {
		if selected("fan1kx64,100x64", sc) {
			scens = append(scens, sc)
		}
	}
	r := report{
		Reps: 2, FanDur: p.fanDur, FanLoad: p.fanLoad, Servers: []string{"nows", "coder"}, Scenarios: scens,
		Samples: map[string]map[string][]sample{
			"fan1kx64": {
				"nows":  {{DeliveriesPS: 50000, P50us: 900, P99us: 2000, CPUusPerDlv: 6}, {DeliveriesPS: 50000, P50us: 1100, P99us: 3000, CPUusPerDlv: 8, Lost: 2}},
				"coder": {{DeliveriesPS: 50000, P50us: 1000, P99us: 1000, CPUusPerDlv: 4}, {DeliveriesPS: 50000, P50us: 1000, P99us: 1000, CPUusPerDlv: 4}},
			},
			"100x64": {"nows": {{MsgsPerSec: 1}}, "coder": {{MsgsPerSec: 1}}},
		},
	}
	md := r.markdown()
	fan, _, ok := strings.Cut(md[strings.Index(md, "## Fan-out"):], "## Method")
	if !ok {
		t.Fatal("no Fan-out section before Method")
	}
	for _, want := range []string{
		"benchmarks-fanout.svg",
		"| nows | 50,000 | 1000 | 2500 | 2.50× | 7.00 | 1.75× | – | 2 | 0 | 0 |",
	} {
		if !strings.Contains(fan, want) {
			t.Errorf("Fan-out section lacks %q:\n%s", want, fan)
		}
	}
	if strings.Contains(fan, "echo, 100 connections") {
		t.Error("the echo table is in the Fan-out section")
	}
	if svg := r.fanoutSVG(); !strings.Contains(svg, "1000 members × 64 B<") || !strings.Contains(svg, "1.75") {
		t.Errorf("fan-out chart:\n%s", svg)
	}
}
