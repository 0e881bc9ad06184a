package ingest

import (
	"strings"
	"unicode"
)

// Limits of a number a person types, in digits after "+": E.164 allows at
// most 15, and no country's complete number is shorter than 7.
const (
	minPersonPhone = 7
	maxPersonPhone = 15
)

// ParsePhone reads a phone number as a person types it, into a web form or
// on the command line, and returns it spelled as chathook spells phones:
// E.164, "+" and digits only. Spaces, dashes, dots and brackets between
// the digits are dropped, and a leading "00" is read as "+":
// "+972 50 000 0000", "00972-50-000-0000" and "+1 (650) 555-1234" are
// "+972500000000" and "+16505551234". Anything else is an *FieldError
// naming field, with one sentence saying what is wrong: empty, letters,
// no country code, too short or too long.
//
// The ingest API does not use it: machines send one spelling (IsPhone),
// and a number stored by it is matched byte for byte.
func ParsePhone(field, typed string) (string, error) {
	v := strings.TrimSpace(typed)
	if v == "" {
		return "", fieldErr(field, `required: the number with + and its country code, e.g. "+972 50 000 0000"`)
	}
	var digits strings.Builder
	plus := false
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == '+':
			return "", fieldErr(field, `%q has a "+" inside it: only its start may have one`, typed)
		case r == '-' || r == '.' || r == '(' || r == ')' || unicode.IsSpace(r):
		case unicode.IsLetter(r):
			return "", fieldErr(field, `%q has letters: a phone number is digits, with + and its country code first, e.g. "+972 50 000 0000"`, typed)
		default:
			return "", fieldErr(field, `%q has %q: use only digits, spaces, dashes, dots and brackets`, typed, r)
		}
	}
	d := digits.String()
	if !plus {
		if !strings.HasPrefix(d, "00") {
			return "", fieldErr(field, `%q has no country code: start with + and the country code, e.g. "+972 50 000 0000"`, typed)
		}
		d = d[2:]
	}
	switch {
	case d == "":
		return "", fieldErr(field, `%q has no digits: type the number with + and its country code, e.g. "+972 50 000 0000"`, typed)
	case d[0] == '0':
		// "+0…" or "000…": a local number behind a "+", as "+050 000 0000".
		return "", fieldErr(field, `%q has no country code: no country code starts with 0, e.g. "+972 50 000 0000" rather than "+050 000 0000"`, typed)
	case len(d) < minPersonPhone:
		return "", fieldErr(field, `%q is too short: %d digits, a number with its country code has at least %d`, typed, len(d), minPersonPhone)
	case len(d) > maxPersonPhone:
		return "", fieldErr(field, `%q is too long: %d digits, a number with its country code has at most %d`, typed, len(d), maxPersonPhone)
	}
	return "+" + d, nil
}
