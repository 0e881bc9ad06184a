package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README is read in two minutes: at most 10 KB, and its first
// commands are the two a newcomer needs, to run the service and the tests.
func TestREADMEIsShort(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 10240 {
		t.Errorf("README.md is %d bytes, more than 10 KB: move a section to docs/", len(data))
	}
	readme := string(data)
	first := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindStringSubmatchIndex(readme)
	if first == nil {
		t.Fatal("README.md has no code block")
	}
	if got, want := strings.TrimSpace(readme[first[2]:first[3]]), "go run ./cmd/chathook serve\ngo test ./..."; got != want {
		t.Errorf("the README's first commands are\n%s\nwant\n%s", got, want)
	}
	if shot := strings.Index(readme, "](docs/chats.png)"); shot < 0 || shot > first[0] {
		t.Errorf("the screenshot docs/chats.png is not shown before the commands")
	}
	if strings.Contains(readme[:first[0]], "PostgreSQL") {
		t.Errorf("the README speaks of test details before its commands")
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link of README.md, CONTRIBUTING.md and docs/*.md names a
// file of the repository, and a heading of it when it has an #anchor.
func TestRelativeLinksResolve(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "../README.md", "../CONTRIBUTING.md")
	checked := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			target, anchor, _ := strings.Cut(link, "#")
			path := page
			if target != "" {
				path = filepath.Join(filepath.Dir(page), target)
			}
			if strings.Contains(filepath.ToSlash(filepath.Clean(path)), "shared/") {
				t.Errorf("%s links %s, outside what users have", page, link)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: the link %s names no file", page, link)
				continue
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !hasAnchor(t, path, anchor) {
				t.Errorf("%s: the link %s names no heading of %s", page, link, path)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links checked: is the pattern right?", checked)
	}
}

// hasAnchor says whether a heading of the Markdown file at path has
// GitHub's anchor name: lower case, punctuation dropped, spaces as dashes.
func hasAnchor(t *testing.T, path, anchor string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inCode := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range heading {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
				b.WriteRune(r)
			}
		}
		if b.String() == anchor {
			return true
		}
	}
	return false
}
