package ingest_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chathook/chathook/ingest"
)

// TestCleanText: what a source hands over is made a text the rules take,
// keeping what a person wrote (line breaks, tabs, emoji).
func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"Hi 👋\n\tthere":    "Hi 👋\n\tthere",
		"a\x00b":           "ab",
		"bad \xff byte":    "bad \uFFFD byte",
		"\x00ok\x00\x00":   "ok",
		"bell \a and \x1b": "bell \a and \x1b",
	} {
		got := ingest.CleanText(in)
		if got != want {
			t.Errorf("ingest.CleanText(%q) = %q, want %q", in, got, want)
		}
		if err := ingest.CheckText("text", got); err != nil {
			t.Errorf("ingest.CleanText(%q) = %q, refused: %v", in, got, err)
		}
	}
	long := ingest.CleanText(strings.Repeat("é", ingest.MaxText+5))
	if n := utf8.RuneCountInString(long); n != ingest.MaxText || ingest.CheckText("text", long) != nil {
		t.Errorf("a long text is %d characters, want %d", n, ingest.MaxText)
	}
}
