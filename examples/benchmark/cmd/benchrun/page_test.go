package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// fullReport is a run with every part of the page: each kind of scenario,
// the targets, the Go benchmark and a recovery run with an error.
func fullReport() report {
	r := targetsReport()
	r.Machine = machine{CPUs: 2, Model: "Test CPU", Go: "go1.26", Kernel: "Linux 6", Memory: "4.0 GiB"}
	r.Load, r.Date, r.Took, r.ClkTck = [2]string{"0.5", "1.5"}, "2026-12-01", 90*time.Second, 100
	r.Duration, r.Handshake, r.FanDur, r.FanLoad = time.Second, 3000, 2*time.Second, 50000
	r.RecClients, r.RecMessages = 1000, 100
	for i := range 10 {
		r.MetricsBench.Off = append(r.MetricsBench.Off, 1000+float64(i))
		r.MetricsBench.On = append(r.MetricsBench.On, 1020+float64(i))
	}
	r.Samples["fan1kx4k"] = map[string][]sample{"nows": {{DeliveriesPS: 50000, P50us: 900, P99us: 2000, CPUusPerDlv: 6}}}
	r.Samples["recovery"] = map[string][]sample{"nows": repeat(10, func(i int) sample {
		s := sample{RecTotalMs: 3000 + float64(i), RecP50Ms: 1500, RecP99Ms: 2900, RecAttemptP50Ms: 1200, RecAttemptP99Ms: 2500,
			RecMessages: 100000, RecClients: 1000, RecDone: 1000, StoreReads: 1010, RecServerCPUms: 1200, RecRedisCPUms: 600, RecLoadCPUms: 1600}
		if i == 3 {
			s.RecTotalMs, s.RecDone, s.RecMessages, s.Lost, s.NotRecovered, s.Errors = 0, 999, 99900, 100, 1, 1
			s.Note = `not recovered: "unavailable"`
		}
		return s
	})}
	p := params{dur: r.Duration, idle: r.Idle, handshakes: r.Handshake, fanDur: r.FanDur, fanLoad: r.FanLoad,
		fanMembers: []int{1000, 5000}, recClients: r.RecClients, recMessages: r.RecMessages}
	for _, sc := range scenarios(p) {
		if r.Samples[sc.id] != nil {
			r.Scenarios = append(r.Scenarios, sc)
		}
	}
	return r
}

// TestChineseTwin renders both pages and checks that the Chinese one has
// the English one's structure: the same headings at the same levels, the
// same code, the same tables row for row with the same figures, the same
// links mapped to docs/zh, and prose in Chinese throughout.
func TestChineseTwin(t *testing.T) {
	r := fullReport()
	en, zh := parsePage(r.markdown()), parsePage(r.inZH().markdown())
	if !strings.HasPrefix(en.text, generatedMark) || !strings.HasPrefix(zh.text, generatedMark) {
		t.Error("a page lacks the generated mark")
	}
	if got, want := levels(zh.headings), levels(en.headings); !slices.Equal(got, want) {
		t.Errorf("heading levels: zh %v, en %v", got, want)
	}
	if !slices.Equal(zh.code, en.code) {
		t.Errorf("code differs:\nen %q\nzh %q", en.code, zh.code)
	}
	checkTables(t, en.tables, zh.tables)
	checkLinks(t, en, zh)
	for i, sec := range zh.sections {
		if prose := strings.TrimSpace(strings.TrimPrefix(sec, generatedMark)); prose != "" && !hasHan(prose) {
			t.Errorf("zh section %d has no Chinese prose: %q", i, sec)
		}
	}
	if hasHan(en.text) {
		t.Error("the English page has Chinese in it")
	}
	for _, want := range []string{"## Recovery", "### recovery, 1,000 clients × 100 missed messages",
		"| every client recovered, from the restart (ms) | 9 | 3005 | 3001 – 3008 |",
		"| 10,000 | 9,999 | 999,900 | 100 | 0 | 1 | 1 |", `First error: not recovered: "unavailable"`} {
		if !strings.Contains(en.text, want) {
			t.Errorf("the English page lacks %q", want)
		}
	}
	for _, want := range []string{"## 恢复", "### 恢复，1,000 个客户端 × 100 条错过的消息",
		"| 全部客户端恢复完毕，从重启算起（ms） | 9 | 3005 | 3001 – 3008 |"} {
		if !strings.Contains(zh.text, want) {
			t.Errorf("the Chinese page lacks %q", want)
		}
	}
}

func levels(hs []heading) []int {
	var out []int
	for _, h := range hs {
		out = append(out, h.level)
	}
	return out
}

// checkTables: the same tables with the same rows and cells; a cell
// without Chinese in it is a figure or a name, the same on both pages but
// for the full-width parentheses of Chinese text.
func checkTables(t *testing.T, en, zh [][][]string) {
	t.Helper()
	if len(en) != len(zh) {
		t.Fatalf("%d tables in zh, %d in en", len(zh), len(en))
	}
	for i := range en {
		if len(en[i]) != len(zh[i]) {
			t.Errorf("table %d: %d rows in zh, %d in en", i, len(zh[i]), len(en[i]))
			continue
		}
		for j := range en[i] {
			e, z := en[i][j], zh[i][j]
			if len(e) != len(z) {
				t.Errorf("table %d row %d: %d cells in zh, %d in en", i, j, len(z), len(e))
				continue
			}
			for k := range e {
				if !hasHan(z[k]) && halfWidth.Replace(z[k]) != e[k] {
					t.Errorf("table %d row %d cell %d: zh %q, en %q", i, j, k, z[k], e[k])
				}
			}
		}
	}
}

// checkLinks: the twin's links, but its one link back to the English
// page, are the English page's seen from docs/zh: images one directory
// up, anchors to the heading that translates the English one.
func checkLinks(t *testing.T, en, zh page) {
	t.Helper()
	zl := slices.DeleteFunc(slices.Clone(zh.links), func(l string) bool { return l == "../benchmarks.md" })
	if len(zl) != len(zh.links)-1 {
		t.Errorf("the twin has %d links back to the English page, want 1", len(zh.links)-len(zl))
	}
	if len(zl) != len(en.links) {
		t.Fatalf("links: zh %q, en %q", zl, en.links)
	}
	for i, l := range en.links {
		want := "../" + l
		if a, ok := strings.CutPrefix(l, "#"); ok {
			h := slices.IndexFunc(en.headings, func(h heading) bool { return slug(h.text) == a })
			if h < 0 {
				t.Errorf("en link %s: no such heading", l)
				continue
			}
			want = "#" + slug(zh.headings[h].text)
		}
		if zl[i] != want {
			t.Errorf("zh link %d is %s, want %s (en %s)", i, zl[i], want, l)
		}
	}
}

// page is what TestChineseTwin compares of a rendered page.
type page struct {
	text     string
	headings []heading
	code     []string     // fenced and indented code, line by line
	tables   [][][]string // table, row, cell
	links    []string
	sections []string // the prose under each heading, the first before any
}

type heading struct {
	level int
	text  string
}

var (
	halfWidth = strings.NewReplacer("（", " (", "）", ")")
	headingRe = regexp.MustCompile(`^(#{1,6}) (.*)$`)
	linkRe    = regexp.MustCompile(`\]\(([^)\s]*)\)`)
	inlineRe  = regexp.MustCompile("`[^`]*`")
)

func parsePage(text string) page {
	p := page{text: text, sections: []string{""}}
	fenced, inTable := false, false
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "```"):
			fenced = !fenced
			p.code = append(p.code, line)
		case fenced || strings.HasPrefix(line, "    ") && i > 0 && lines[i-1] == "":
			p.code = append(p.code, line)
		case strings.HasPrefix(line, "|"):
			if !inTable {
				p.tables = append(p.tables, nil)
			}
			cells := strings.Split(strings.Trim(line, "|"), "|")
			for k := range cells {
				cells[k] = strings.TrimSpace(cells[k])
			}
			p.tables[len(p.tables)-1] = append(p.tables[len(p.tables)-1], cells)
		default:
			if m := headingRe.FindStringSubmatch(line); m != nil {
				p.headings = append(p.headings, heading{len(m[1]), m[2]})
				p.sections = append(p.sections, "")
			} else {
				p.sections[len(p.sections)-1] += line + "\n"
			}
		}
		inTable = strings.HasPrefix(line, "|")
		for _, m := range linkRe.FindAllStringSubmatch(inlineRe.ReplaceAllString(line, ""), -1) {
			p.links = append(p.links, m[1])
		}
	}
	return p
}

// slug is GitHub's anchor of a heading: lowercase, spaces to hyphens,
// other punctuation dropped, letters of any script kept.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// TestRenderFrom: -from renders both pages from a -raw file, the same as
// the run that wrote it.
func TestRenderFrom(t *testing.T) {
	r := fullReport()
	dir := t.TempDir()
	b, err := json.Marshal(rawFile{report: r, TookS: r.Took.Seconds()})
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.json")
	if err := os.WriteFile(raw, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := params{dur: r.Duration, idle: r.Idle, handshakes: r.Handshake, fanMembers: []int{1000, 5000}}
	if err := render(raw, dir, 1, p, "", ""); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"benchmarks.md": r.markdown(), "zh/benchmarks.md": r.inZH().markdown()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s rendered from the raw file differs from the run's", name)
		}
	}
}
