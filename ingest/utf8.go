package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// checkUTF8 refuses a body with a string, key or value, that is not valid
// UTF-8 or holds an escaped half of a UTF-16 surrogate pair ("\ud83d"
// alone), naming the field as "messages[3].text". encoding/json quietly
// turns both into U+FFFD, so without this check a client's broken
// encoding would be stored and forwarded as question marks; it reads the
// raw bytes instead. body must be JSON that encoding/json accepted.
func checkUTF8(body []byte) error {
	if utf8.Valid(body) && !hasSurrogateEscape(body) {
		return nil // the common case: one pass, no parsing
	}
	w := utf8Walker{b: body}
	w.space()
	if fe := w.value(); fe != nil {
		return fe
	}
	return nil
}

// hasSurrogateEscape reports whether body may hold an escaped surrogate,
// \uD800 to \uDFFF. A false positive (an escaped backslash before "ud8")
// only costs the walk.
func hasSurrogateEscape(body []byte) bool {
	for {
		i := bytes.Index(body, []byte(`\u`))
		if i < 0 || i+4 > len(body) {
			return false
		}
		if c, d := body[i+2], body[i+3]; (c == 'd' || c == 'D') && (d >= '8' && d <= '9' || d >= 'a' && d <= 'f' || d >= 'A' && d <= 'F') {
			return true
		}
		body = body[i+2:]
	}
}

// utf8Walker walks one JSON value in raw bytes, keeping the path of the
// field it is in. It stops, finding nothing, at anything that is not JSON
// (which Decode has already refused), so it never panics on odd input.
type utf8Walker struct {
	b  []byte
	i  int
	at []field // where w.i is
}

func (w *utf8Walker) space() {
	for w.i < len(w.b) && (w.b[w.i] == ' ' || w.b[w.i] == '\t' || w.b[w.i] == '\n' || w.b[w.i] == '\r') {
		w.i++
	}
}

// field is one step of the walk's place: a key of an object or an index
// of a list. The walk keeps a stack of them and spells it out only for an
// error, so a valid body costs no allocation per field.
type field struct {
	key   []byte // quoted, as in the body; nil for an index
	index int
}

// path spells the walk's place as "messages[3].text"; the top is "body".
func (w *utf8Walker) path() string {
	if len(w.at) == 0 {
		return "body"
	}
	var b strings.Builder
	for i, f := range w.at {
		switch {
		case f.key == nil:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case i > 0:
			b.WriteString("." + keyName(keyText(f.key)))
		default:
			b.WriteString(keyName(keyText(f.key)))
		}
	}
	return b.String()
}

// value walks the value at w.i, at the place w.at, and the whitespace
// after it.
func (w *utf8Walker) value() *FieldError {
	if w.i >= len(w.b) {
		return nil
	}
	switch w.b[w.i] {
	case '{':
		w.i++
		w.space()
		for w.i < len(w.b) && w.b[w.i] == '"' {
			start := w.i
			problem := w.str()
			w.at = append(w.at, field{key: w.b[start:w.i]})
			if problem != "" {
				return &FieldError{Field: w.path(), Problem: "the key is " + problem}
			}
			w.space()
			if w.i >= len(w.b) || w.b[w.i] != ':' {
				return nil
			}
			w.i++
			w.space()
			if fe := w.member(); fe != nil {
				return fe
			}
		}
		w.i++ // '}'
	case '[':
		w.i++
		w.space()
		for n := 0; w.i < len(w.b) && w.b[w.i] != ']'; n++ {
			before := w.i
			w.at = append(w.at, field{index: n})
			if fe := w.member(); fe != nil {
				return fe
			}
			if w.i == before {
				return nil // not JSON: stop rather than loop
			}
		}
		w.i++ // ']'
	case '"':
		if problem := w.str(); problem != "" {
			return &FieldError{Field: w.path(), Problem: problem}
		}
	default: // a number, true, false or null
		for w.i < len(w.b) && strings.IndexByte(",]} \t\r\n", w.b[w.i]) < 0 {
			w.i++
		}
	}
	w.space()
	return nil
}

// member walks the value of the field last pushed on w.at, pops it, and
// steps over the comma after it: the step an object and a list share.
func (w *utf8Walker) member() *FieldError {
	if fe := w.value(); fe != nil {
		return fe
	}
	w.at = w.at[:len(w.at)-1]
	if w.i < len(w.b) && w.b[w.i] == ',' {
		w.i++
		w.space()
	}
	return nil
}

// str reads the string at w.i, up to and past its closing quote, and says
// what is wrong with it, or "".
func (w *utf8Walker) str() string {
	w.i++ // '"'
	problem := ""
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return problem
		case c == '\\':
			if w.i+1 < len(w.b) && w.b[w.i+1] == 'u' {
				r, ok := hex4(w.b, w.i+2)
				w.i += 6
				if !ok || !utf16.IsSurrogate(r) {
					continue
				}
				if r < 0xdc00 { // a high half needs a low half next
					if lo, ok := hex4(w.b, w.i+2); ok && w.i+1 < len(w.b) && w.b[w.i] == '\\' && w.b[w.i+1] == 'u' && lo >= 0xdc00 && lo <= 0xdfff {
						w.i += 6
						continue
					}
				}
				if problem == "" {
					problem = fmt.Sprintf(`not valid UTF-8: \u%04x is half of a UTF-16 surrogate pair, without its other half`, r)
				}
				continue
			}
			w.i += 2
		case c < utf8.RuneSelf:
			w.i++
		default:
			r, size := utf8.DecodeRune(w.b[w.i:])
			if r == utf8.RuneError && size == 1 && problem == "" {
				problem = fmt.Sprintf("not valid UTF-8: byte 0x%02x cannot be where it is; send text encoded as UTF-8", c)
			}
			w.i += size
		}
	}
	return problem
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// keyText is a quoted key as a person reads it in a field path.
func keyText(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		if len(quoted) < 2 {
			return string(quoted)
		}
		return string(bytes.ToValidUTF8(quoted[1:len(quoted)-1], []byte("\uFFFD")))
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return string(bytes.ToValidUTF8(quoted, []byte("\uFFFD")))
	}
	return s
}
