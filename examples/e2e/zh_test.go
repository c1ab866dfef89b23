package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// pendingTwins are the English pages whose Chinese twin in docs/zh may
// still be missing: their check is logged, not failed, while the twin is
// absent (a twin that exists is checked like any other), and links to them
// from docs/zh may still point to the English page. Every page has its
// twin now: a new page may wait here while its twin is written, never
// past the change that adds it.
var pendingTwins = []string{}

// The prose of a twin, in runes (code, link targets and spaces left out),
// is this share of its English page's, for the whole page and for each
// section long enough to measure. The first 13 twins measured 0.50 to
// 0.57 a page and 0.44 to 0.69 a section of 400 runes or more: Chinese
// needs about half the runes of English. The bands leave room for a terser style but fail a page that
// lost a section, or a section that lost a paragraph or two.
const (
	minProseRatio   = 0.40
	maxProseRatio   = 0.75
	minSectionRatio = 0.35
	maxSectionRatio = 0.9
	minSectionRunes = 400 // English runes a section needs to be measured
)

// generated marks a page written by a program: its twin comes from the same
// program, which keeps texts it takes from code (the CLI's help) English,
// so its length is not compared.
const generated = "<!-- Code generated "

// TestChineseTwins checks that every page of docs/ has a twin in docs/zh
// that carries the same content: the same headings, code blocks, tables
// and links, and prose of a comparable length.
func TestChineseTwins(t *testing.T) {
	t.Parallel()
	repo := os.DirFS(filepath.Join("..", ".."))
	pages, err := fs.Glob(repo, "docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md (%v)", err)
	}
	for _, p := range pages {
		name := path.Base(p)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := fs.Stat(repo, "docs/zh/"+name); err != nil && slices.Contains(pendingTwins, name) {
				t.Logf("docs/zh/%s: not translated yet (pending)", name)
				return
			}
			for _, p := range twinProblems(repo, name) {
				t.Error(p)
			}
		})
	}
	t.Run("no orphans", func(t *testing.T) {
		t.Parallel()
		zh, _ := fs.Glob(repo, "docs/zh/*.md")
		for _, p := range zh {
			if _, err := fs.Stat(repo, "docs/"+path.Base(p)); err != nil {
				t.Errorf("%s: no English page docs/%s: name the twin after its English page", p, path.Base(p))
			}
		}
	})
}

// mdPage is what the twin check compares of a Markdown page.
type mdPage struct {
	path      string
	generated bool
	headings  []mdHeading
	blocks    []mdBlock
	tables    []mdTable
	links     []mdRef
	sections  []int // prose runes before the first heading, then under each
}

type mdHeading struct {
	line, level int
	text        string
}

// mdBlock is a fenced code block, with the <!-- from: --> comment that
// introduces it, if any.
type mdBlock struct {
	line int
	text string
}

type mdTable struct{ line, rows int }

type mdRef struct {
	line           int
	target, anchor string
}

func (p *mdPage) prose() int {
	n := 0
	for _, s := range p.sections {
		n += s
	}
	return n
}

var (
	headingLine = regexp.MustCompile(`^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$`)
	linkRef     = regexp.MustCompile(`\]\(([^)\s]*)\)`)
	autoLink    = regexp.MustCompile(`<[a-z]+://[^>\s]*>`)
	htmlComment = regexp.MustCompile(`<!--.*?-->`)
)

// readPage parses a Markdown page of fsys, or returns nil if it cannot be
// read.
func readPage(fsys fs.FS, name string) *mdPage {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil
	}
	p := &mdPage{path: name, sections: []int{0}, generated: strings.HasPrefix(string(b), generated)}
	var block *mdBlock
	from := ""
	for i, line := range strings.Split(string(b), "\n") {
		n, trimmed := i+1, strings.TrimSpace(line)
		switch {
		case block != nil:
			block.text += "\n" + line
			if trimmed == "```" {
				p.blocks = append(p.blocks, *block)
				block = nil
			}
		case strings.HasPrefix(trimmed, "```"):
			block = &mdBlock{line: n, text: line}
			if from != "" {
				block.text = from + "\n" + line
			}
		case fromComment.MatchString(trimmed):
			from = trimmed
			continue
		default:
			p.addProse(n, line)
		}
		if trimmed != "" {
			from = ""
		}
	}
	return p
}

// addProse records a line outside code blocks.
func (p *mdPage) addProse(n int, line string) {
	trimmed := strings.TrimSpace(line)
	if m := headingLine.FindStringSubmatch(line); m != nil {
		p.headings = append(p.headings, mdHeading{line: n, level: len(m[1]), text: m[2]})
		p.sections = append(p.sections, 0)
	}
	if strings.HasPrefix(trimmed, "|") {
		if last := len(p.tables) - 1; last >= 0 && p.tables[last].line+p.tables[last].rows == n {
			p.tables[last].rows++
		} else {
			p.tables = append(p.tables, mdTable{line: n, rows: 1})
		}
	}
	text := inlineCode.ReplaceAllString(line, "")
	for _, m := range linkRef.FindAllStringSubmatch(text, -1) {
		target, anchor, _ := strings.Cut(m[1], "#")
		p.links = append(p.links, mdRef{line: n, target: target, anchor: anchor})
	}
	text = htmlComment.ReplaceAllString(autoLink.ReplaceAllString(linkRef.ReplaceAllString(text, "]"), ""), "")
	for _, r := range text {
		if !unicode.IsSpace(r) {
			p.sections[len(p.sections)-1]++
		}
	}
}

// twinProblems compares docs/<name> of repo with docs/zh/<name> and
// describes each difference: where it is and what to do.
func twinProblems(repo fs.FS, name string) []string {
	en := readPage(repo, "docs/"+name)
	zh := readPage(repo, "docs/zh/"+name)
	if en == nil {
		return []string{fmt.Sprintf("docs/%s: cannot read the English page", name)}
	}
	if zh == nil {
		return []string{fmt.Sprintf("docs/zh/%s: missing: translate docs/%s (same headings, code blocks, tables and links)", name, name)}
	}
	var probs []string
	probs = append(probs, headingProblems(en, zh)...)
	probs = append(probs, blockProblems(en, zh)...)
	probs = append(probs, tableProblems(en, zh)...)
	probs = append(probs, linkProblems(repo, pendingTwins, en, zh)...)
	if zh.generated {
		return probs
	}
	return append(probs, lengthProblems(en, zh)...)
}

func headingProblems(en, zh *mdPage) []string {
	for i, h := range en.headings {
		if i == len(zh.headings) {
			return []string{fmt.Sprintf("%s: ends after %d headings; %s:%d has %q next: translate it as a level-%d heading", zh.path, i, en.path, h.line, h.text, h.level)}
		}
		if z := zh.headings[i]; z.level != h.level {
			return []string{fmt.Sprintf("%s:%d: heading %q is level %d; its English heading %q (%s:%d) is level %d: the headings must match one to one", zh.path, z.line, z.text, z.level, h.text, en.path, h.line, h.level)}
		}
	}
	if len(zh.headings) > len(en.headings) {
		z := zh.headings[len(en.headings)]
		return []string{fmt.Sprintf("%s:%d: heading %q has no English counterpart in %s: remove it or merge it", zh.path, z.line, z.text, en.path)}
	}
	return nil
}

func blockProblems(en, zh *mdPage) []string {
	for i, b := range en.blocks {
		if i == len(zh.blocks) {
			return []string{fmt.Sprintf("%s: has %d code blocks, %s has %d: copy the block at %s:%d", zh.path, len(zh.blocks), en.path, len(en.blocks), en.path, b.line)}
		}
		if z := zh.blocks[i]; z.text != b.text {
			return []string{fmt.Sprintf("%s:%d: code block %d differs from %s:%d: copy it byte for byte, with its fence and <!-- from: --> comment (comments in code stay English)", zh.path, z.line, i+1, en.path, b.line)}
		}
	}
	if len(zh.blocks) > len(en.blocks) {
		z := zh.blocks[len(en.blocks)]
		return []string{fmt.Sprintf("%s:%d: code block with no counterpart in %s: remove it", zh.path, z.line, en.path)}
	}
	return nil
}

// tableProblems pairs the tables in order; once a table is missing or
// extra, the pairs after it mean nothing, so it stops there.
func tableProblems(en, zh *mdPage) []string {
	var probs []string
	for i := range max(len(en.tables), len(zh.tables)) {
		switch {
		case i == len(zh.tables):
			e := en.tables[i]
			return append(probs, fmt.Sprintf("%s: has %d tables, %s has %d: translate the table at %s:%d", zh.path, len(zh.tables), en.path, len(en.tables), en.path, e.line))
		case i == len(en.tables):
			z := zh.tables[i]
			return append(probs, fmt.Sprintf("%s:%d: table with no counterpart in %s: remove it", zh.path, z.line, en.path))
		}
		if e, z := en.tables[i], zh.tables[i]; z.rows != e.rows {
			probs = append(probs, fmt.Sprintf("%s:%d: table has %d rows, its English table (%s:%d) has %d: translate each row, one for one", zh.path, z.line, z.rows, en.path, e.line, e.rows))
		}
	}
	return probs
}

// lengthProblems compares the prose of the page and of each section long
// enough to measure; the headings must match for sections to pair up.
func lengthProblems(en, zh *mdPage) []string {
	var probs []string
	if r := ratio(zh.prose(), en.prose()); r < minProseRatio || r > maxProseRatio {
		probs = append(probs, fmt.Sprintf("%s: prose is %d runes, %.2f of %s's %d (want %.2f to %.2f): translate every sentence, list item and note, and add nothing",
			zh.path, zh.prose(), r, en.path, en.prose(), minProseRatio, maxProseRatio))
	}
	if len(zh.sections) != len(en.sections) {
		return probs
	}
	for i, n := range en.sections {
		if n < minSectionRunes {
			continue
		}
		if r := ratio(zh.sections[i], n); r < minSectionRatio || r > maxSectionRatio {
			probs = append(probs, fmt.Sprintf("%s:%d: the section's prose is %.2f of the English one's (%s:%d; want %.2f to %.2f): is a paragraph or list item missing?",
				zh.path, sectionLine(zh, i), r, en.path, sectionLine(en, i), minSectionRatio, maxSectionRatio))
		}
	}
	return probs
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// sectionLine is the line of the heading that opens section i (1 for the
// text before the first heading).
func sectionLine(p *mdPage, i int) int {
	if i == 0 {
		return 1
	}
	return p.headings[i-1].line
}

// githubSlug is the anchor GitHub gives a heading: lowercase, spaces to
// hyphens, punctuation other than "-" and "_" dropped, any letter (CJK
// too) kept.
func githubSlug(heading string) string {
	heading = linkRef.ReplaceAllString(heading, "]")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// slugs are the anchors of a page's headings, in order, with GitHub's
// "-1", "-2" suffixes for repeated ones.
func (p *mdPage) slugs() []string {
	if p == nil {
		return nil
	}
	seen := map[string]int{}
	var out []string
	for _, h := range p.headings {
		s := githubSlug(h.text)
		if n := seen[s]; n > 0 {
			seen[s] = n + 1
			s = fmt.Sprintf("%s-%d", s, n)
		} else {
			seen[s] = 1
		}
		out = append(out, s)
	}
	return out
}

// linkProblems checks that zh has en's links in order, each mapped from
// docs/ to docs/zh (see zhTarget), leading to a file that exists and to
// the heading matching the English one; a link to the missing twin of a
// pending page may lead to it or to the English page. The twin's one link back to its
// English page is not counted.
func linkProblems(repo fs.FS, pending []string, en, zh *mdPage) []string {
	links := zh.links
	toTwin := func(l mdRef) bool { return resolve(en.path, l.target) == zh.path }
	back := func(l mdRef) bool { return l.target == "../"+path.Base(en.path) && l.anchor == "" }
	if i := slices.IndexFunc(links, back); i >= 0 && !slices.ContainsFunc(en.links, toTwin) {
		links = slices.Delete(slices.Clone(links), i, i+1)
	}
	var probs []string
	for i, e := range en.links {
		if i == len(links) {
			return append(probs, fmt.Sprintf("%s: has %d links, %s has %d: the next is %s at %s:%d", zh.path, len(links), en.path, len(en.links), e, en.path, e.line))
		}
		if p := linkProblem(repo, pending, en, e, zh, links[i]); p != "" {
			probs = append(probs, p)
		}
		if len(probs) == 5 {
			return probs // the rest likely follow from these
		}
	}
	if len(links) > len(en.links) {
		l := links[len(en.links)]
		probs = append(probs, fmt.Sprintf("%s:%d: link %s has no counterpart in %s: remove it", zh.path, l.line, l, en.path))
	}
	return probs
}

func (l mdRef) String() string {
	if l.anchor == "" {
		return l.target
	}
	return l.target + "#" + l.anchor
}

// linkProblem compares the English link e with its twin z.
func linkProblem(repo fs.FS, pending []string, en *mdPage, e mdRef, zh *mdPage, z mdRef) string {
	want, twin := zhTarget(e.target)
	if twin == zh.path {
		want, twin = "../"+path.Base(en.path), "" // the page's link to its twin is the twin's link back
	}
	fallback := twin != "" && slices.Contains(pending, path.Base(twin)) && !exists(repo, twin)
	ok := sameTarget(z.target, want) || fallback && z.target == "../"+path.Base(twin)
	if !ok {
		if e.anchor != "" {
			want += "#…"
		}
		return fmt.Sprintf("%s:%d: link %s should be %s: %s:%d links %s, and from docs/zh a guide page is its twin and anything else is one more ../ away",
			zh.path, z.line, z, want, en.path, e.line, e)
	}
	if isURL(z.target) {
		return ""
	}
	if zhFile := resolve(zh.path, z.target); !exists(repo, zhFile) {
		if fallback {
			return "" // the twin is pending; its link is right already
		}
		return fmt.Sprintf("%s:%d: link %s leads to %s, which does not exist", zh.path, z.line, z, zhFile)
	}
	return anchorProblem(repo, en, e, zh, z)
}

// anchorProblem checks that z's anchor names, in the page z leads to, the
// heading that e's anchor names in the page e leads to.
func anchorProblem(repo fs.FS, en *mdPage, e mdRef, zh *mdPage, z mdRef) string {
	enFile, zhFile := resolve(en.path, e.target), resolve(zh.path, z.target)
	if !strings.HasSuffix(enFile, ".md") {
		if z.anchor != e.anchor {
			return fmt.Sprintf("%s:%d: link %s should keep the anchor #%s of %s:%d", zh.path, z.line, z, e.anchor, en.path, e.line)
		}
		return ""
	}
	if e.anchor == "" && z.anchor == "" {
		return ""
	}
	enP, zhP := readPage(repo, enFile), readPage(repo, zhFile)
	i := -1
	if enP != nil {
		i = slices.Index(enP.slugs(), e.anchor)
	}
	if i < 0 {
		return fmt.Sprintf("%s:%d: link %s leads to no heading of %s: fix the English link first", en.path, e.line, e, enFile)
	}
	if slugs := zhP.slugs(); i >= len(slugs) || slugs[i] != z.anchor {
		want := "(missing heading)"
		if i < len(slugs) {
			want = "#" + slugs[i]
		}
		return fmt.Sprintf("%s:%d: link %s should end in %s, the anchor of the heading of %s that translates %s's %q", zh.path, z.line, z, want, zhFile, enFile, enP.headings[i].text)
	}
	return ""
}

// zhTarget maps a link target of a page of docs/ to the same target from
// docs/zh; twin is the Chinese page it leads to if it leads to the guide.
func zhTarget(target string) (want, twin string) {
	if target == "" || isURL(target) {
		return target, ""
	}
	abs := path.Clean(path.Join("docs", target))
	switch {
	case path.Dir(abs) == "docs" && strings.HasSuffix(abs, ".md"):
		return path.Base(abs), "docs/zh/" + path.Base(abs)
	case path.Dir(abs) == "docs/zh":
		return path.Base(abs), abs
	}
	return "../" + target, ""
}

func sameTarget(got, want string) bool {
	return got == want || path.Clean(got) == path.Clean(want) && strings.HasSuffix(got, "/") == strings.HasSuffix(want, "/")
}

func isURL(target string) bool {
	return strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:")
}

// resolve is the file that a link target of page leads to ("" is page).
func resolve(page, target string) string {
	if target == "" {
		return page
	}
	return path.Clean(path.Join(path.Dir(page), target))
}

func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, name)
	return err == nil
}

// The synthetic pair of TestTwinProblems: docs/x.md and its twin, which
// link to docs/y.md and its twin.
const (
	enPage = "# Rooms\n\n" +
		"A room is a named set of connections. A handler joins its connection to a room when it opens, and leaves when the connection closes; every message sent to the room goes to each member once, in the order the room received them. Rooms live in one process unless a broker links several processes.\n\n" +
		"A slow member does not hold up the others: each member has its own queue, and a member whose queue stays full past the write timeout is closed with 1008, so the room keeps its pace. See [the limits](y.md#queue-limits) for the sizes, and [the chat example](../examples/chat) for a room in use.\n\n" +
		"<!-- from: examples/chat/blueprints/chat_bp.go -->\n```go\nfunc (h *Chat) OnOpen(ctx context.Context, c *framework.Conn) error {\n\t// join the room named in the path\n\treturn h.room.Join(c)\n}\n```\n\n" +
		"## Members\n\n" +
		"| method | what it does |\n|---|---|\n| `Join` | adds a connection |\n| `Leave` | removes it |\n\n" +
		"Members are listed by `Room.Members`, in the order they joined; the list is a copy, so it stays valid while members come and go. ![the room diagram](img/room.png) Read more on <https://example.com/rooms>.\n\n" +
		"A member that leaves stops receiving messages at once, including those already queued for it: they are dropped, not delivered late, because a message that arrives after the client left the room would confuse it.\n"
	zhPage = "# 房间\n\n" +
		"（English: [../x.md](../x.md)）\n\n" +
		"房间是一组有名字的连接。处理器在连接打开时把它加入房间，在连接关闭时离开；发往房间的每条消息都会按房间收到的顺序，送达每个成员一次。除非有消息代理把多个进程连起来，房间只存在于一个进程内。\n\n" +
		"慢成员不会拖累其他成员：每个成员有自己的队列，队列在写超时之后仍然满着的成员会以 1008 关闭，房间因此保持自己的节奏。各项大小见[限制](y.md#队列限制)，实际使用的房间见[聊天示例](../../examples/chat)。\n\n" +
		"<!-- from: examples/chat/blueprints/chat_bp.go -->\n```go\nfunc (h *Chat) OnOpen(ctx context.Context, c *framework.Conn) error {\n\t// join the room named in the path\n\treturn h.room.Join(c)\n}\n```\n\n" +
		"## 成员\n\n" +
		"| 方法 | 作用 |\n|---|---|\n| `Join` | 加入一个连接 |\n| `Leave` | 移除它 |\n\n" +
		"`Room.Members` 按加入的先后列出成员；返回的是一份副本，成员进出时它依然有效。![房间示意图](../img/room.png) 详见 <https://example.com/rooms>。\n\n" +
		"离开的成员立即停止接收消息，包括已经为它排队的消息：这些消息会被丢弃，而不是迟到送达，因为客户端离开房间之后才到的消息只会让它困惑。\n"
)

// TestTwinProblems checks the twin check itself on a small pair: the full
// twin passes, and each way a twin can drift is caught.
func TestTwinProblems(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new string // the edit that breaks the twin
		want           string // in the one problem reported
	}{
		{"full twin", "", "", ""},
		{"dropped paragraph", "离开的成员立即停止接收消息，包括已经为它排队的消息：这些消息会被丢弃，而不是迟到送达，因为客户端离开房间之后才到的消息只会让它困惑。", "", "prose is"},
		{"heading level", "## 成员", "### 成员", "is level 3"},
		{"translated code comment", "// join the room named in the path", "// 加入路径中指定的房间", "code block 1 differs"},
		{"from comment dropped", "<!-- from: examples/chat/blueprints/chat_bp.go -->\n", "", "code block 1 differs"},
		{"table row dropped", "| `Leave` | 移除它 |\n", "", "table has 3 rows"},
		{"table dropped", "| 方法 | 作用 |\n|---|---|\n| `Join` | 加入一个连接 |\n| `Leave` | 移除它 |\n", "", "translate the table at docs/x.md:17"},
		{"link to the English page", "(y.md#队列限制)", "(../y.md#queue-limits)", "should be y.md#…"},
		{"English anchor", "(y.md#队列限制)", "(y.md#queue-limits)", "should end in #队列限制"},
		{"path not mapped", "(../../examples/chat)", "(../examples/chat)", "should be ../../examples/chat"},
		{"image not mapped", "(../img/room.png)", "(img/room.png)", "should be ../img/room.png"},
		{"link dropped", "[聊天示例](../../examples/chat)", "聊天示例", "has 2 links"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			zh := zhPage
			if c.old != "" {
				if !strings.Contains(zh, c.old) {
					t.Fatalf("the twin has no %q", c.old)
				}
				zh = strings.Replace(zh, c.old, c.new, 1)
			}
			probs := twinProblems(fstest.MapFS{
				"docs/x.md":             {Data: []byte(enPage)},
				"docs/zh/x.md":          {Data: []byte(zh)},
				"docs/y.md":             {Data: []byte("# Y\n\n## Queue limits\n")},
				"docs/zh/y.md":          {Data: []byte("# Y\n\n## 队列限制\n")},
				"docs/img/room.png":     {},
				"examples/chat/main.go": {},
			}, "x.md")
			switch {
			case c.want == "" && len(probs) > 0:
				t.Errorf("problems with a full twin:\n%s", strings.Join(probs, "\n"))
			case c.want != "" && !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, c.want) }):
				t.Errorf("want a problem with %q, got:\n%s", c.want, strings.Join(probs, "\n"))
			}
		})
	}
}

func TestGithubSlug(t *testing.T) {
	t.Parallel()
	for heading, want := range map[string]string{
		"Dependencies (`Deps`)":                     "dependencies-deps",
		"`nows handler add BLUEPRINT NAME`":         "nows-handler-add-blueprint-name",
		"The app's dependencies: `blueprints.Deps`": "the-apps-dependencies-blueprintsdeps",
		"依赖（`Deps`）":                                "依赖deps",
		"3. 你自己的项目":                                 "3-你自己的项目",
		"snake_case and -dash-":                     "snake_case-and--dash-",
	} {
		if got := githubSlug(heading); got != want {
			t.Errorf("githubSlug(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestSectionLength shows the section band catching what the page band
// lets through: one long section that lost a paragraph.
func TestSectionLength(t *testing.T) {
	t.Parallel()
	en := &mdPage{path: "docs/x.md", sections: []int{100, 1000, 1000}, headings: []mdHeading{{line: 5}, {line: 20}}}
	zh := &mdPage{path: "docs/zh/x.md", sections: []int{50, 550, 300}, headings: []mdHeading{{line: 6}, {line: 19}}}
	probs := lengthProblems(en, zh)
	if len(probs) != 1 || !strings.HasPrefix(probs[0], "docs/zh/x.md:19: the section's prose is 0.30") {
		t.Errorf("want one problem, with the short section at docs/zh/x.md:19; got %q", probs)
	}
	zh.sections[2] = 500
	if probs := lengthProblems(en, zh); len(probs) > 0 {
		t.Errorf("problems with a full twin: %q", probs)
	}
}

// TestLinksToPendingTwins checks links to a pending page: while
// its twin is missing, either its future twin or the English page will do,
// but a link to any other missing twin fails.
func TestLinksToPendingTwins(t *testing.T) {
	t.Parallel()
	const pending = "rooms.md"
	for _, c := range []struct {
		en, zh string // link targets
		ok     bool
	}{
		{pending + "#examples", pending + "#examples", true},
		{pending + "#examples", "../" + pending + "#examples", true},
		{pending + "#examples", "../" + pending + "#示例", false}, // the English page has no such heading
		{"y.md", "y.md", false},                                 // y.md is not pending: its twin must exist
		{"y.md", "../y.md", false},
	} {
		fsys := fstest.MapFS{
			"docs/" + pending: {Data: []byte("# P\n\n## Examples\n")},
			"docs/y.md":       {Data: []byte("# Y\n")},
			"docs/x.md":       {Data: []byte("# X\n\nSee [it](" + c.en + ").\n")},
			"docs/zh/x.md":    {Data: []byte("# X\n\n见[它](" + c.zh + ")。\n")},
		}
		probs := linkProblems(fsys, []string{pending}, readPage(fsys, "docs/x.md"), readPage(fsys, "docs/zh/x.md"))
		if (len(probs) == 0) != c.ok {
			t.Errorf("%s for %s: problems %q, want ok=%v", c.zh, c.en, probs, c.ok)
		}
	}
}
