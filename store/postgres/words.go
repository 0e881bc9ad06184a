package postgres

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search runs on tsvectors built here rather than by to_tsvector: Go
// splits and lowers text the same way whatever the database's locale
// (under lc_ctype C, PostgreSQL's parser takes every non-ASCII rune for a
// letter and lower() leaves Cyrillic and Hebrew as they are), and user
// input only ever reaches a tsquery as quoted lexemes.

// maxLexeme bounds a lexeme in bytes: PostgreSQL refuses one over 2046,
// and a word that long is no one's search. A longer word is cut, and so
// is a search word, so its prefix still finds it.
const maxLexeme = 200

// words returns the words of s: its runs of letters and digits, lowered,
// each cut to maxLexeme bytes.
func words(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, f := range fields {
		f = strings.ToLower(f)
		if len(f) > maxLexeme {
			f = f[:maxLexeme]
			for !utf8.ValidString(f) { // cut inside a rune
				f = f[:len(f)-1]
			}
		}
		fields[i] = f
	}
	return fields
}

// lexeme quotes w for a tsvector or tsquery literal.
func lexeme(w string) string {
	return "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(w) + "'"
}

// tsvector is the literal of the tsvector of s's words (no positions:
// search asks only whether a word is there).
func tsvector(s string) string {
	ws := words(s)
	for i, w := range ws {
		ws[i] = lexeme(w)
	}
	return strings.Join(ws, " ")
}

// prefixQuery is the tsquery literal that matches text in which every
// word of search begins a word; "" when search has no word.
func prefixQuery(search string) string {
	ws := words(search)
	for i, w := range ws {
		ws[i] = lexeme(w) + ":*"
	}
	return strings.Join(ws, " & ")
}
