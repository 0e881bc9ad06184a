package whatsweb

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook/ingest"
)

// cleanName makes s a name the ingest API accepts: valid UTF-8, no
// control characters (a name is one line), at most ingest.MaxName
// characters: a contact's long name is no reason to lose their message.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(cut(s, ingest.MaxName))
}

// cleanText makes s a text the ingest API accepts: valid UTF-8, no NUL
// (PostgreSQL cannot store it), at most ingest.MaxText characters, which
// is WhatsApp's own cap, so only a broken client's text is ever cut.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	return cut(s, ingest.MaxText)
}

// cut returns the first n characters of s.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// isPhone is the ingest API's rule for a number, with its "+": how
// chathook spells every number it makes of a WhatsApp address.
func isPhone(v string) bool { return strings.HasPrefix(v, "+") && ingest.IsPhone(v) }

// safeID is a message id fit for a log line: WhatsApp's are short hex,
// but one from a broken client must not forge log lines.
func safeID(id string) string {
	return cut(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, id), 64)
}
