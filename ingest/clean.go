package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText makes s a text these rules accept: valid UTF-8, no NUL
// (PostgreSQL cannot store it), at most MaxText characters, which is
// WhatsApp's own cap, so only a broken client's text is ever cut. Sources
// clean what WhatsApp hands over rather than refuse it: a stray control
// character is no reason to lose a message. Line breaks and tabs stay.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	return Cut(s, MaxText)
}

// CleanName makes s a name these rules accept: valid UTF-8, no control
// characters (a name is one line), at most MaxName characters. Sources
// that take names from WhatsApp (a push name, a Cloud API profile name)
// clean them rather than refuse them: a contact's odd name is no reason
// to lose their message.
func CleanName(s string) string { return cleanName(s, ' ') }

// cleanName is CleanName with each control character replaced by ctrl,
// or dropped when ctrl is negative.
func cleanName(s string, ctrl rune) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ctrl
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.TrimSpace(Cut(s, MaxName))
}

// Cut returns the first n characters of s.
func Cut(s string, n int) string {
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
