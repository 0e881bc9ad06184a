package whatsweb

import (
	"strings"
	"unicode"

	"github.com/chathook/chathook/ingest"
)

// cleanText makes s a text the ingest API accepts: valid UTF-8, no NUL
// (PostgreSQL cannot store it), at most ingest.MaxText characters, which
// is WhatsApp's own cap, so only a broken client's text is ever cut.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	return ingest.Cut(s, ingest.MaxText)
}

// isPhone is the ingest API's rule for a number, with its "+": how
// chathook spells every number it makes of a WhatsApp address.
func isPhone(v string) bool { return strings.HasPrefix(v, "+") && ingest.IsPhone(v) }

// safeID is a message id fit for a log line: WhatsApp's are short hex,
// but one from a broken client must not forge log lines.
func safeID(id string) string {
	return ingest.Cut(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, id), 64)
}
