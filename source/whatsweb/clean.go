package whatsweb

import (
	"strings"
	"unicode"

	"github.com/chathook/chathook/ingest"
)

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
