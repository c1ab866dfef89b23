package e2e

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// guidePages are the pages of docs/ and of its Chinese twin docs/zh, by
// glob so that no page is forgotten. Each Go code block must quote compiled
// code: it is preceded by a comment naming the file it comes from,
//
//	<!-- from: examples/upload/blueprints/upload_bp.go -->
//
// and each of its lines (trimmed; blank lines and "// ..." or "# ..."
// elisions skipped) must appear in that file, in order. So a snippet
// cannot drift from code that builds and is tested.
func guidePages(t *testing.T) []string {
	t.Helper()
	docs := filepath.Join("..", "..", "docs")
	var pages []string
	for _, pattern := range []string{"*.md", "zh/*.md"} {
		m, err := filepath.Glob(filepath.Join(docs, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(docs, p)
			pages = append(pages, filepath.ToSlash(rel))
		}
	}
	if len(pages) == 0 {
		t.Fatalf("no pages in %s", docs)
	}
	return pages
}

var fromComment = regexp.MustCompile(`^<!-- from: (\S+) -->$`)

func TestDocsQuoteCompiledCode(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	for _, page := range guidePages(t) {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			blocks := goBlocks(t, filepath.Join(root, "docs", page))
			for _, b := range blocks {
				if b.from == "" {
					t.Errorf("docs/%s:%d: Go block without <!-- from: path --> before it", page, b.line)
					continue
				}
				src, err := os.ReadFile(filepath.Join(root, b.from))
				if err != nil {
					t.Errorf("docs/%s:%d: %v", page, b.line, err)
					continue
				}
				if missing, ok := quotes(string(src), b.lines); !ok {
					t.Errorf("docs/%s:%d: line %q is not in %s (in this order)", page, b.line, missing, b.from)
				}
			}
		})
	}
}

type goBlock struct {
	line  int    // of the opening fence
	from  string // the file it quotes
	lines []string
}

// goBlocks returns the ```go blocks of a Markdown file.
func goBlocks(t *testing.T, path string) []goBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []goBlock
	var cur *goBlock
	from := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		case trimmed == "```go":
			cur = &goBlock{line: n, from: from}
			from = ""
		case fromComment.MatchString(trimmed):
			from = fromComment.FindStringSubmatch(trimmed)[1]
		case trimmed != "":
			from = "" // the comment must come right before the block
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// quotes reports whether every significant line of snippet appears in src
// in order, or returns the first line that does not.
func quotes(src string, snippet []string) (string, bool) {
	var have []string
	for l := range strings.SplitSeq(src, "\n") {
		have = append(have, strings.TrimSpace(l))
	}
	i := 0
	for _, l := range snippet {
		l = strings.TrimSpace(l)
		if l == "" || l == "// ..." || l == "# ..." || l == "..." {
			continue
		}
		for i < len(have) && have[i] != l {
			i++
		}
		if i == len(have) {
			return l, false
		}
		i++
	}
	return "", true
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)\s]*)?\)`)
	codeFence  = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("`[^`]*`")
)

// TestDocsLinks checks that the guide's relative links lead somewhere.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	docs := filepath.Join("..", "..", "docs")
	for _, page := range guidePages(t) {
		b, err := os.ReadFile(filepath.Join(docs, page))
		if err != nil {
			t.Error(err)
			continue
		}
		prose := inlineCode.ReplaceAllString(codeFence.ReplaceAllString(string(b), ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(prose, -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			if pendingTwin(page, target) {
				continue // TestChineseTwins logs it
			}
			if _, err := os.Stat(filepath.Join(docs, filepath.Dir(page), target)); err != nil {
				t.Errorf("docs/%s: broken link %s", page, target)
			}
		}
	}
}

// pendingTwin reports whether a link of page leads to the Chinese twin of
// a page in pendingTwins, which may not be written yet.
func pendingTwin(page, target string) bool {
	return path.Dir(page) == "zh" && path.Dir(target) == "." && slices.Contains(pendingTwins, target)
}
