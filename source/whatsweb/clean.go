package whatsweb

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

// maxName is the ingest API's limit on a name, in characters. A name
// WhatsApp gives is cut to it: a contact's long name is no reason to lose
// their message. check proves the result against the API's own rules.
const maxName = 256

// cleanName makes s a name the ingest API accepts: valid UTF-8, no
// control characters (a name is one line), at most maxName characters.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(cut(s, maxName))
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

// isPhone is the ingest API's rule for a number: "+" and 5 to 20 digits.
func isPhone(v string) bool {
	digits, ok := strings.CutPrefix(v, "+")
	if !ok || len(digits) < 5 || len(digits) > 20 {
		return false
	}
	return strings.Trim(digits, "0123456789") == ""
}

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

// check runs in through the ingest API's own validation, as if a program
// had posted it, so that a message from WhatsApp is held to exactly the
// rules any other source is: the store may rely on them.
func check(in chathook.Incoming, now time.Time) error {
	type person struct {
		FullName string `json:"full_name"`
		Phone    string `json:"phone"`
	}
	w := map[string]any{
		"account":    map[string]any{"phone": in.Account.Phone, "full_name": in.Account.FullName, "email": in.Account.Email},
		"chat":       map[string]any{"external_id": in.Chat.ExternalID, "full_name": in.Chat.FullName, "is_group": in.Chat.IsGroup, "phone": in.Chat.Phone},
		"message_id": in.MessageID,
		"direction":  in.Direction,
		"timestamp":  in.Timestamp.Format(time.RFC3339Nano),
		"text":       in.Text,
	}
	if in.Sender != nil {
		w["sender"] = person(*in.Sender)
	}
	if in.Recipient != nil {
		w["recipient"] = person(*in.Recipient)
	}
	if in.SkipReason != "" {
		w["attachments"] = []any{map[string]any{}}
	}
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = ingest.Message(body, now)
	return err
}
