package ingest

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/chathook/chathook"
)

// FitAttachments makes the attachments a WhatsApp source built pass
// Check, so that what a sender's client got wrong never costs the
// message: names, mime types and file names are cleaned and cut to
// MaxName, a vCard to its limit without NULs, a location's coordinates
// out of range are dropped (the attachment's Error says so), and cards
// beyond MaxAttachments are left out.
func FitAttachments(as []chathook.Attachment) []chathook.Attachment {
	if len(as) > MaxAttachments {
		as = as[:MaxAttachments]
	}
	for i := range as {
		a := &as[i]
		a.MimeType, a.FileName, a.Name, a.Address = fitName(a.MimeType), fitName(a.FileName), fitName(a.Name), fitName(a.Address)
		a.VCard = fitBytes(strings.ReplaceAll(strings.ToValidUTF8(a.VCard, "\uFFFD"), "\x00", ""), maxVCard)
		if !validCoordinate(a.Latitude, 90) || !validCoordinate(a.Longitude, 180) {
			a.Latitude, a.Longitude = 0, 0
			if a.Error == "" {
				a.Error = "WhatsApp gave coordinates that are not on Earth"
			}
		}
		a.Size = max(a.Size, 0)
		a.Width, a.Height, a.DurationS = max(a.Width, 0), max(a.Height, 0), max(a.DurationS, 0)
	}
	return as
}

// fitName is valid UTF-8 without control characters (dropped: a file
// name's stray NUL joins, not splits, it), at most MaxName characters.
func fitName(s string) string { return cleanName(s, -1) }

// fitBytes is s cut to at most n bytes, at a character's start.
func fitBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func validCoordinate(v, limit float64) bool {
	return !math.IsNaN(v) && v >= -limit && v <= limit
}
