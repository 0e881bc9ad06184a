package ingest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// valid is a complete message; cases change one thing in it.
func valid() map[string]any {
	return map[string]any{
		"account":    map[string]any{"phone": "+972500000000", "full_name": "Amnon Haha", "email": "amnon@acme.com"},
		"chat":       map[string]any{"external_id": "+97254000000", "full_name": "John Doe", "is_group": false, "phone": "+97254000000"},
		"message_id": "3EB0C767D26A1D2D",
		"direction":  "received",
		"timestamp":  "2021-02-24T16:25:29Z",
		"text":       "Hi! 👋",
	}
}

// absent, given to with as a value, deletes the field; nil sends null.
type absentField struct{}

var absent absentField

// with returns valid() as JSON, changed by path/value pairs such as
// "chat.phone", "+1234567".
func with(pairs ...any) []byte {
	m := valid()
	for i := 0; i < len(pairs); i += 2 {
		path, v := pairs[i].(string), pairs[i+1]
		obj := m
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			obj = obj[p].(map[string]any)
		}
		if v == absent {
			delete(obj, parts[len(parts)-1])
		} else {
			obj[parts[len(parts)-1]] = v
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

// dup returns body with its first old replaced by new: a key twice, which
// no map marshals.
func dup(body []byte, old, new string) []byte {
	if !bytes.Contains(body, []byte(old)) {
		panic("dup: no " + old)
	}
	return bytes.Replace(body, []byte(old), []byte(new), 1)
}

// batchOf returns {"messages": [...]} of n valid messages with ids m0,
// m1, ...; change, when not nil, edits message i.
func batchOf(n int, change func(i int, m map[string]any)) []byte {
	msgs := make([]map[string]any, n)
	for i := range msgs {
		msgs[i] = valid()
		msgs[i]["message_id"] = fmt.Sprint("m", i)
		if change != nil {
			change(i, msgs[i])
		}
	}
	data, err := json.Marshal(map[string]any{"messages": msgs})
	if err != nil {
		panic(err)
	}
	return data
}

type errorCase struct {
	name  string
	body  []byte
	field string // the exact FieldError.Field
	says  string // part of the problem a person needs to fix it
}

// checkFieldError asserts that err is a *FieldError naming c.field with a
// problem that says c.says.
func checkFieldError(t *testing.T, err error, c errorCase) {
	t.Helper()
	var fe *ingest.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FieldError naming %s", err, c.field)
	}
	if fe.Field != c.field {
		t.Errorf("field = %q, want %q (problem: %s)", fe.Field, c.field, fe.Problem)
	}
	if !strings.Contains(fe.Problem, c.says) {
		t.Errorf("problem %q does not say %q", fe.Problem, c.says)
	}
	if fe.Error() != fe.Field+": "+fe.Problem {
		t.Errorf("Error() = %q, want field: problem", fe.Error())
	}
}

func TestMessageErrors(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	cases := []errorCase{
		// The body as a whole.
		{"empty body", []byte(``), "body", "empty"},
		{"only whitespace", []byte(" \n\t"), "body", "empty"},
		{"malformed JSON", []byte(`{"account": `), "body", "ends too soon"},
		{"syntax error", []byte(`{"account" 1}`), "body", "invalid JSON at byte"},
		{"not an object", []byte(`[1, 2]`), "body", "must be a JSON object"},
		{"a bare string", []byte(`"hello"`), "body", "must be a JSON object"},
		{"a second object", append(with(), ` {}`...), "body", "invalid JSON"},
		{"trailing garbage", append(with(), ` x`...), "body", "invalid JSON"},
		{"an extra brace", append(with(), `}`...), "body", "invalid JSON"},

		// Wrong JSON types name the field by its path.
		{"direction is a number", with("direction", 5), "direction", "must be a string, not number"},
		{"message_id is a number", with("message_id", 123), "message_id", "must be a string"},
		{"text is a bool", with("text", true), "text", "must be a string, not bool"},
		{"timestamp is a unix time", with("timestamp", 1614183929), "timestamp", "must be a string"},
		{"account is a string", with("account", "+972500000000"), "account", "must be an object"},
		{"chat is a list", with("chat", []any{}), "chat", "must be an object"},
		{"is_group is a string", with("chat.is_group", "yes"), "chat.is_group", "must be true or false"},
		{"sender phone is a number", with("sender", map[string]any{"phone": 972540000000}), "sender.phone", "must be a string"},
		{"attachments is a string", with("attachments", "photo"), "attachments", "must be a list"},

		// Unknown fields, named by their path: a typo must not be dropped.
		{"unknown field", with("direcion", "sent"), "direcion", "unknown field"},
		{"unknown field in chat", with("chat.extra", 1), "chat.extra", "unknown field"},
		{"unknown field in account", with("account.name", "Amnon"), "account.name", "unknown field"},
		{"unknown field in sent_by", with("sent_by", map[string]any{"name": "Jane"}), "sent_by.name", "unknown field"},

		// Keys are matched exactly, and once: encoding/json would take
		// "Direction" for "direction", and let the last of two keys win.
		{"field name in another case", with("direction", absent, "Direction", "sent"), "Direction", `case-sensitive (did you mean "direction"?)`},
		{"TEXT for text", with("text", absent, "TEXT", "hi"), "TEXT", `did you mean "text"?`},
		{"text and TEXT", with("TEXT", "hi"), "TEXT", `did you mean "text"?`},
		{"nested field in another case", with("chat.external_id", absent, "chat.External_ID", "x"), "chat.External_ID", `did you mean "external_id"?`},
		{"duplicate key", dup(with(), `"text":`, `"text":"a","text":`), "text", "more than once"},
		{"duplicate nested key", dup(with(), `"chat":{`, `"chat":{"phone":"+1555555",`), "chat.phone", "more than once"},
		{"duplicate object", dup(with(), `"account":`, `"account":{},"account":`), "account", "more than once"},
		{"duplicate key in an attachment", with("attachments", json.RawMessage(`[{"type":"a","type":"b"}]`)), "attachments[0].type", "more than once"},
		{"duplicate number key in an attachment", with("attachments", json.RawMessage(`[{"type":"contact"}, {"type":"contact","name":"a","name":"b"}]`)), "attachments[1].name", "more than once"},

		// account
		{"no account", with("account", absent), "account", "required"},
		{"account null", with("account", nil), "account", "required"},
		{"no account phone", with("account.phone", absent), "account.phone", "required"},
		{"empty account phone", with("account.phone", ""), "account.phone", "required"},
		{"account phone with letters", with("account.phone", "+97250abc"), "account.phone", "not a phone number"},
		{"account phone with spaces", with("account.phone", "+972 50 000 0000"), "account.phone", "not a phone number"},
		{"account phone with dashes", with("account.phone", "+972-50-0000000"), "account.phone", "not a phone number"},
		{"account phone of 4 digits", with("account.phone", "+1234"), "account.phone", "not a phone number"},
		{"account phone of 21 digits", with("account.phone", "+"+long("1", 21)), "account.phone", "not a phone number"},
		{"account phone with two +", with("account.phone", "++972500000000"), "account.phone", "not a phone number"},
		{"account name too long", with("account.full_name", long("n", 257)), "account.full_name", "too long: 257 characters"},
		{"account email without @", with("account.email", "amnon.acme.com"), "account.email", "not an email address"},
		{"account email without user", with("account.email", "@acme.com"), "account.email", "not an email address"},
		{"account email without domain", with("account.email", "amnon@"), "account.email", "not an email address"},
		{"account email with two @", with("account.email", "a@b@acme.com"), "account.email", "not an email address"},
		{"account email with a space", with("account.email", "amnon haha@acme.com"), "account.email", "not an email address"},
		{"account email with a name", with("account.email", "Amnon <amnon@acme.com>"), "account.email", "not an email address"},
		{"account email of 255 bytes", with("account.email", long("a", 246)+"@acme.com"), "account.email", "too long: 255 bytes"},

		// chat
		{"no chat", with("chat", absent), "chat", "required"},
		{"chat null", with("chat", nil), "chat", "required"},
		{"empty chat", with("chat", map[string]any{}), "chat.external_id", "required"},
		{"no id and no phone", with("chat", map[string]any{"full_name": "John"}), "chat.external_id", "required"},
		{"group without id", with("chat", map[string]any{"is_group": true, "phone": "+97254000000"}), "chat.external_id", "required"},
		{"chat id too long", with("chat.external_id", long("1", 257)), "chat.external_id", "too long: 257 bytes"},
		{"chat id with a newline", with("chat.external_id", "a\nb"), "chat.external_id", "control characters"},
		{"chat phone invalid", with("chat.phone", "call me"), "chat.phone", "not a phone number"},
		{"only an invalid chat phone", with("chat", map[string]any{"phone": "call me"}), "chat.phone", "not a phone number"},
		{"chat name too long", with("chat.full_name", long("名", 257)), "chat.full_name", "too long: 257 characters"},

		// message_id
		{"no message_id", with("message_id", absent), "message_id", "required"},
		{"empty message_id", with("message_id", ""), "message_id", "required"},
		{"message_id of 257 bytes", with("message_id", long("x", 257)), "message_id", "too long: 257 bytes"},
		{"message_id of 129 two-byte characters", with("message_id", long("é", 129)), "message_id", "too long: 258 bytes"},
		{"message_id with NUL", with("message_id", "a\x00b"), "message_id", "control characters"},
		{"message_id with a tab", with("message_id", "a\tb"), "message_id", "control characters"},
		{"message_id with DEL", with("message_id", "a\x7fb"), "message_id", "control characters"},
		{"message_id with a C1 control", with("message_id", "a\u0085b"), "message_id", "control characters"},

		// direction
		{"no direction", with("direction", absent), "direction", "required"},
		{"empty direction", with("direction", ""), "direction", "required"},
		{"unknown direction", with("direction", "sideways"), "direction", `must be "sent" or "received", not "sideways"`},
		{"direction in capitals", with("direction", "Sent"), "direction", `"sent" or "received"`},

		// timestamp
		{"timestamp not a time", with("timestamp", "yesterday"), "timestamp", "RFC 3339"},
		{"timestamp without zone", with("timestamp", "2021-02-24T16:25:29"), "timestamp", "RFC 3339"},
		{"timestamp with a space", with("timestamp", "2021-02-24 16:25:29Z"), "timestamp", "RFC 3339"},
		{"timestamp on 30 February", with("timestamp", "2021-02-30T16:25:29Z"), "timestamp", "RFC 3339"},
		{"unix time as a string", with("timestamp", "1614183929"), "timestamp", `"1614183929" is not a time`},

		// sender, recipient, sent_by
		{"sender phone invalid", with("sender", map[string]any{"full_name": "x", "phone": "12"}), "sender.phone", "not a phone number"},
		{"recipient phone invalid", with("recipient", map[string]any{"phone": "+972 54"}), "recipient.phone", "not a phone number"},
		{"sender name too long", with("sender", map[string]any{"full_name": long("s", 257)}), "sender.full_name", "too long"},
		{"recipient name too long", with("recipient", map[string]any{"full_name": long("r", 257)}), "recipient.full_name", "too long"},
		{"sent_by name too long", with("sent_by", map[string]any{"full_name": long("j", 257)}), "sent_by.full_name", "too long"},
		{"sent_by email invalid", with("sent_by", map[string]any{"full_name": "Jane", "email": "jane@"}), "sent_by.email", "not an email address"},

		// text
		{"no text", with("text", absent), "text", "required"},
		{"empty text", with("text", ""), "text", "required"},
		{"blank text", with("text", " \n\t"), "text", "required"},
		{"zero-width space", with("text", "\u200b"), "text", "required"},
		{"only invisible characters", with("text", "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u202e\u2066\ufe0f\u3164\u034f\U000e0001 \u00a0\u3000"), "text", "required"},
		{"only invisible characters, with attachments empty", with("text", "\u2060", "attachments", []any{}), "text", "required"},
		{"no text, empty attachments", with("text", absent, "attachments", []any{}), "text", "required"},
		{"text of 65537 letters", with("text", long("x", ingest.MaxText+1)), "text", "65537 characters"},
		{"text of 65537 emoji", with("text", long("👋", ingest.MaxText+1)), "text", "65537 characters"},
		{"text with NUL", with("text", "a\x00b"), "text", "NUL"},
		{"chat name with NUL", with("chat.full_name", "John\x00"), "chat.full_name", "NUL"},
		{"account email with NUL", with("account.email", "a\x00@acme.com"), "account.email", "NUL"},
		{"sent_by name with NUL", with("sent_by", map[string]any{"full_name": "\x00"}), "sent_by.full_name", "NUL"},
		{"too long even with attachments", with("text", long("x", ingest.MaxText+1), "attachments", []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg"}}), "text", "too long"},

		// Attachments are forwarded to event endpoints, so they must be
		// what SPEC 8 describes.
		{"attachment that is a string", with("attachments", []any{"voice"}), "attachments", "must be an object"},
		{"attachment without a type", with("attachments", []any{map[string]any{"url": "https://x.example/1.jpg"}}), "attachments[0].type", "required: one of image, video"},
		{"attachment of an unknown type", with("attachments", []any{map[string]any{"type": "gif", "url": "https://x.example/1.gif"}}), "attachments[0].type", `"gif" is not an attachment type`},
		{"file without a url", with("attachments", []any{map[string]any{"type": "document"}}), "attachments[0].url", "never fetches it"},
		{"url that is not http", with("attachments", []any{map[string]any{"type": "image", "url": "file:///etc/passwd"}}), "attachments[0].url", "not an http or https URL"},
		{"url without a host", with("attachments", []any{map[string]any{"type": "image", "url": "https:///x.jpg"}}), "attachments[0].url", "not an http or https URL"},
		{"url too long", with("attachments", []any{map[string]any{"type": "image", "url": "https://x.example/" + long("a", 2048)}}), "attachments[0].url", "at most 2048"},
		{"second attachment bad", with("attachments", []any{map[string]any{"type": "location", "latitude": 1, "longitude": 2},
			map[string]any{"type": "location", "latitude": 91}}), "attachments[1].latitude", "between -90 and 90"},
		{"longitude out of range", with("attachments", []any{map[string]any{"type": "location", "longitude": -181}}), "attachments[0].longitude", "between -180 and 180"},
		{"negative size", with("attachments", []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg", "size": -1}}), "attachments[0].size", "negative"},
		{"file name with NUL", with("attachments", []any{map[string]any{"type": "document", "url": "https://x.example/a", "file_name": "a\x00"}}), "attachments[0].file_name", "NUL"},
		{"vcard too long", with("attachments", []any{map[string]any{"type": "contact", "vcard": long("x", 65537)}}), "attachments[0].vcard", "at most 65536"},
		{"attachment with an unknown key", with("attachments", []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg", "caption": "x"}}), "attachments[0].caption", "unknown"},
		{"too many attachments", with("attachments", func() []any {
			out := make([]any, ingest.MaxAttachments+1)
			for i := range out {
				out[i] = map[string]any{"type": "contact", "vcard": "BEGIN:VCARD"}
			}
			return out
		}()), "attachments", "33 attachments, at most 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.Message(c.body, now)
			checkFieldError(t, err, c)
		})
	}
}

func TestTimestamps(t *testing.T) {
	want := time.Date(2021, 2, 24, 16, 25, 29, 0, time.UTC)
	for _, c := range []struct {
		name, timestamp string
		want            time.Time
	}{
		{"RFC 3339 in UTC", "2021-02-24T16:25:29Z", want},
		{"RFC 3339 with an offset", "2021-02-24T18:25:29+02:00", want},
		{"RFC 3339 with a negative offset", "2021-02-24T11:25:29-05:00", want},
		{"RFC 3339 with fractions", "2021-02-24T16:25:29.250Z", want.Add(250 * time.Millisecond)},
		{"wire form", "2021-02-24T16:25:29+0000", want},
		{"wire form with an offset", "2021-02-24T18:25:29+0200", want},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := ingest.Message(with("timestamp", c.timestamp), now)
			if err != nil {
				t.Fatal(err)
			}
			if !in.Timestamp.Equal(c.want) || in.Timestamp.Location() != time.UTC {
				t.Errorf("timestamp = %v, want %v in UTC", in.Timestamp, c.want)
			}
		})
	}

	// Absent or empty means now, in UTC whatever the clock's zone.
	local := now.In(time.FixedZone("IST", 5*3600+1800))
	for name, body := range map[string][]byte{"absent": with("timestamp", absent), "empty": with("timestamp", "")} {
		in, err := ingest.Message(body, local)
		if err != nil || !in.Timestamp.Equal(now) || in.Timestamp.Location() != time.UTC {
			t.Errorf("%s timestamp = %v (%v), want %v in UTC", name, in.Timestamp, err, now)
		}
	}
}

func TestMessageAccepts(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		in, err := ingest.Message(with(), now)
		if err != nil {
			t.Fatal(err)
		}
		if ts := time.Date(2021, 2, 24, 16, 25, 29, 0, time.UTC); !in.Timestamp.Equal(ts) {
			t.Errorf("timestamp %v, want %v", in.Timestamp, ts)
		}
		want := chathook.Incoming{
			Account:   chathook.Account{Phone: "+972500000000", FullName: "Amnon Haha", Email: "amnon@acme.com"},
			Chat:      chathook.Chat{ExternalID: "+97254000000", FullName: "John Doe", Phone: "+97254000000"},
			MessageID: "3EB0C767D26A1D2D", UUID: in.UUID, Direction: chathook.Received,
			Timestamp: in.Timestamp, Text: "Hi! 👋",
		}
		if !reflect.DeepEqual(in, want) {
			t.Errorf("got  %+v\nwant %+v", in, want)
		}
		if len(in.UUID) != 36 {
			t.Errorf("uuid %q", in.UUID)
		}
		if other, _ := ingest.Message(with(), now); other.UUID == in.UUID {
			t.Errorf("two messages share the uuid %s", in.UUID)
		}
	})

	// The longest values allowed pass; text and names count characters,
	// not bytes.
	for _, c := range []struct {
		name  string
		body  []byte
		check func(chathook.Incoming) bool
	}{
		{"65536 letters", with("text", strings.Repeat("x", ingest.MaxText)), func(in chathook.Incoming) bool { return len(in.Text) == ingest.MaxText }},
		{"65536 emoji", with("text", strings.Repeat("👋", ingest.MaxText)), func(in chathook.Incoming) bool { return len(in.Text) == 4*ingest.MaxText }},
		{"names of 256 characters", with("account.full_name", strings.Repeat("名", 256), "chat.full_name", strings.Repeat("😀", 256)),
			func(in chathook.Incoming) bool { return in.Chat.FullName == strings.Repeat("😀", 256) }},
		{"message_id of 256 bytes", with("message_id", strings.Repeat("x", 256)), func(in chathook.Incoming) bool { return len(in.MessageID) == 256 }},
		{"message_id with unicode", with("message_id", "wamid.HBgM-é_1"), func(in chathook.Incoming) bool { return in.MessageID == "wamid.HBgM-é_1" }},
		{"email of 254 bytes", with("account.email", strings.Repeat("a", 245)+"@acme.com"), func(in chathook.Incoming) bool { return len(in.Account.Email) == 254 }},
		{"phone without +", with("account.phone", "972500000000"), func(in chathook.Incoming) bool { return in.Account.Phone == "972500000000" }},
		{"phone of 5 digits", with("account.phone", "+12345"), func(in chathook.Incoming) bool { return in.Account.Phone == "+12345" }},
		{"phone of 20 digits", with("account.phone", "+"+strings.Repeat("1", 20)), func(in chathook.Incoming) bool { return len(in.Account.Phone) == 21 }},
		{"account with only a phone", with("account", map[string]any{"phone": "+972500000000"}), func(in chathook.Incoming) bool {
			return in.Account == chathook.Account{Phone: "+972500000000"}
		}},
		{"text with newlines kept", with("text", "a\nb\r\nc"), func(in chathook.Incoming) bool { return in.Text == "a\nb\r\nc" }},
		{"sent", with("direction", "sent"), func(in chathook.Incoming) bool { return in.Direction == chathook.Sent }},
		{"every field of an attachment kept as given", with("attachments", []any{map[string]any{"type": "document", "url": "https://x.example/i.pdf",
			"mime_type": "application/pdf", "file_name": "invoice.pdf", "size": 48213, "sha256": "ab12", "width": 0, "height": 0, "duration_s": 0}}),
			func(in chathook.Incoming) bool {
				return reflect.DeepEqual(in.Attachments, []chathook.Attachment{{Type: chathook.AttachDocument,
					URL: "https://x.example/i.pdf", MimeType: "application/pdf", FileName: "invoice.pdf", Size: 48213, SHA256: "ab12"}})
			}},
		{"a location needs no url", with("text", absent, "attachments", []any{map[string]any{"type": "location", "latitude": 32.08, "longitude": 34.78,
			"name": "Office", "address": "1 Rothschild Blvd"}}),
			func(in chathook.Incoming) bool {
				return in.SkipReason == ingest.SkipAttachments && len(in.Attachments) == 1 && in.Attachments[0].Latitude == 32.08 &&
					in.Attachments[0].Name == "Office" && in.Attachments[0].State == chathook.MediaNone
			}},
		{"a contact card", with("attachments", []any{map[string]any{"type": "contact", "vcard": "BEGIN:VCARD\nFN:Jo\nEND:VCARD"}}),
			func(in chathook.Incoming) bool { return len(in.Attachments) == 1 && in.Attachments[0].VCard == "BEGIN:VCARD\nFN:Jo\nEND:VCARD" }},
		{"visible text among invisible characters", with("text", "\u200b\u00a0x\ufeff"), func(in chathook.Incoming) bool { return in.Text == "\u200b\u00a0x\ufeff" }},
		{"a sign that is a format character", with("text", "\u0600"), func(in chathook.Incoming) bool { return in.Text == "\u0600" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := ingest.Message(c.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(in) {
				t.Errorf("got %+v", in)
			}
		})
	}
}

func TestChats(t *testing.T) {
	for _, c := range []struct {
		name string
		chat map[string]any
		want chathook.Chat
	}{
		{"direct chat with only a phone: the phone is its id",
			map[string]any{"phone": "+97254000000"},
			chathook.Chat{ExternalID: "+97254000000", Phone: "+97254000000"}},
		{"direct chat with only a phone-like id: the id is its phone",
			map[string]any{"external_id": "+97254000000", "full_name": "John"},
			chathook.Chat{ExternalID: "+97254000000", FullName: "John", Phone: "+97254000000"}},
		{"direct chat with an id that is not a phone: no phone",
			map[string]any{"external_id": "contact-42"},
			chathook.Chat{ExternalID: "contact-42"}},
		{"direct chat with id and another phone: both kept",
			map[string]any{"external_id": "contact-42", "phone": "+97254000000"},
			chathook.Chat{ExternalID: "contact-42", Phone: "+97254000000"}},
		{"group: phone is always empty",
			map[string]any{"external_id": "120363043968@g.us", "is_group": true, "phone": "+97254000000", "full_name": "Team"},
			chathook.Chat{ExternalID: "120363043968@g.us", IsGroup: true, FullName: "Team"}},
		{"group with a phone-like id: still no phone",
			map[string]any{"external_id": "+97254000000", "is_group": true},
			chathook.Chat{ExternalID: "+97254000000", IsGroup: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := ingest.Message(with("chat", c.chat), now)
			if err != nil {
				t.Fatal(err)
			}
			if in.Chat != c.want {
				t.Errorf("chat = %+v, want %+v", in.Chat, c.want)
			}
		})
	}
}

func TestParticipantsAndAttachments(t *testing.T) {
	t.Run("sender, recipient and sent_by", func(t *testing.T) {
		in, err := ingest.Message(with(
			"sender", map[string]any{"full_name": "John Doe", "phone": "+97254000000"},
			"recipient", map[string]any{"full_name": "Amnon"},
			"sent_by", map[string]any{"full_name": "Jane Smith", "email": "jane@acme.com"}), now)
		if err != nil {
			t.Fatal(err)
		}
		if in.Sender == nil || *in.Sender != (chathook.Person{FullName: "John Doe", Phone: "+97254000000"}) ||
			in.Recipient == nil || *in.Recipient != (chathook.Person{FullName: "Amnon"}) || in.SentByName != "Jane Smith" {
			t.Errorf("sender %v, recipient %v, sent by %q", in.Sender, in.Recipient, in.SentByName)
		}
	})
	t.Run("left out: derived later", func(t *testing.T) {
		in, err := ingest.Message(with(), now)
		if err != nil || in.Sender != nil || in.Recipient != nil || in.SentByName != "" {
			t.Errorf("%+v, %v", in, err)
		}
	})

	photo := []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg"}}
	for _, c := range []struct {
		name string
		body []byte
		text string
	}{
		{"attachments with text", with("attachments", photo), "Hi! 👋"},
		{"attachments without text", with("text", absent, "attachments", photo), ""},
		{"attachments with blank text", with("text", "  ", "attachments", photo), "  "},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := ingest.Message(c.body, now)
			if err != nil {
				t.Fatal(err)
			}
			if in.SkipReason != ingest.SkipAttachments || in.Text != c.text {
				t.Errorf("skip reason %q, text %q; want %q, %q", in.SkipReason, in.Text, ingest.SkipAttachments, c.text)
			}
			want := []chathook.Attachment{{Type: chathook.AttachImage, URL: "https://x.example/1.jpg"}}
			if !reflect.DeepEqual(in.Attachments, want) {
				t.Errorf("attachments %+v, want %+v: kept as given", in.Attachments, want)
			}
		})
	}
	if in, err := ingest.Message(with("attachments", []any{}), now); err != nil || in.SkipReason != "" {
		t.Errorf("an empty attachments list: skip reason %q, %v", in.SkipReason, err)
	}
}

func TestBatchErrors(t *testing.T) {
	bad := func(at int, key string, v any) func(int, map[string]any) {
		return func(i int, m map[string]any) {
			if i == at {
				m[key] = v
			}
		}
	}
	for _, c := range []errorCase{
		{"empty body", []byte(``), "body", "empty"},
		{"malformed", []byte(`{"messages": [`), "body", "ends too soon"},
		{"not an object", []byte(`[]`), "body", "must be a JSON object"},
		{"trailing data", append(batchOf(1, nil), ` {}`...), "body", "invalid JSON"},
		{"no messages key", []byte(`{}`), "messages", "required"},
		{"messages null", []byte(`{"messages": null}`), "messages", "required"},
		{"messages not a list", []byte(`{"messages": {}}`), "messages", "must be a list"},
		{"empty list", []byte(`{"messages": []}`), "messages", "empty"},
		{"1001 messages", batchOf(ingest.MaxBatch+1, nil), "messages", "1001 messages"},
		{"unknown top-level key", []byte(`{"messages": [], "extra": 1}`), "extra", "unknown field"},
		{"a message that is not an object", []byte(`{"messages": [7]}`), "messages[0]", "must be a JSON object"},
		{"bad direction in messages[3]", batchOf(5, bad(3, "direction", "sideways")), "messages[3].direction", `"sent" or "received"`},
		{"wrong type in messages[3]", batchOf(5, bad(3, "direction", 5)), "messages[3].direction", "must be a string"},
		{"no account in messages[3]", batchOf(5, bad(3, "account", nil)), "messages[3].account", "required"},
		{"bad chat phone in messages[3]", batchOf(5, bad(3, "chat", map[string]any{"phone": "x"})), "messages[3].chat.phone", "not a phone number"},
		{"unknown field in messages[3]", batchOf(5, bad(3, "txt", "hi")), "messages[3].txt", "unknown field"},
		{"unknown nested field in messages[3]", batchOf(5, bad(3, "sender", map[string]any{"nmae": "x"})), "messages[3].sender.nmae", "unknown field"},
		{"a key in another case in messages[3]", batchOf(5, func(i int, m map[string]any) {
			if i == 3 {
				m["Text"] = m["text"]
				delete(m, "text")
			}
		}), "messages[3].Text", `did you mean "text"?`},
		{"a nested key in another case in messages[3]", batchOf(5, bad(3, "sender", map[string]any{"Full_Name": "x"})), "messages[3].sender.Full_Name", `did you mean "full_name"?`},
		{"a duplicate key in messages[3]", dup(batchOf(5, bad(3, "text", "DUP")), `"text":"DUP"`, `"text":"a","text":"b"`), "messages[3].text", "more than once"},
		{"messages twice", dup(batchOf(2, nil), `{"messages":`, `{"messages":[],"messages":`), "messages", "more than once"},
		{"MESSAGES", dup(batchOf(2, nil), `{"messages":`, `{"MESSAGES":`), "MESSAGES", `did you mean "messages"?`},
		{"invisible text in messages[3]", batchOf(5, bad(3, "text", "\u200b\u2060")), "messages[3].text", "required"},
		{"no text in messages[3]", batchOf(5, bad(3, "text", "")), "messages[3].text", "required"},
		{"the first bad message is named", batchOf(5, func(i int, m map[string]any) {
			if i >= 2 {
				m["message_id"] = ""
			}
		}), "messages[2].message_id", "required"},
		{"bad messages[999] of 1000", batchOf(ingest.MaxBatch, bad(999, "timestamp", "soon")), "messages[999].timestamp", "RFC 3339"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ingest.Batch(c.body, now)
			checkFieldError(t, err, c)
			if got != nil {
				t.Errorf("a bad batch returned %d messages", len(got))
			}
		})
	}
}

func TestBatchAccepts(t *testing.T) {
	for _, n := range []int{1, ingest.MaxBatch} {
		got, err := ingest.Batch(batchOf(n, nil), now)
		if err != nil || len(got) != n {
			t.Fatalf("a batch of %d: %d messages, %v", n, len(got), err)
		}
		seen := map[string]bool{}
		for i, in := range got {
			if in.MessageID != fmt.Sprint("m", i) || seen[in.UUID] || in.Text != "Hi! 👋" {
				t.Fatalf("message %d: id %q uuid %q: order, content or uuid lost", i, in.MessageID, in.UUID)
			}
			seen[in.UUID] = true
		}
	}
	// The same message_id twice is valid input: the store answers the
	// second one "duplicate".
	got, err := ingest.Batch(batchOf(2, func(_ int, m map[string]any) { m["message_id"] = "same" }), now)
	if err != nil || len(got) != 2 {
		t.Errorf("two messages with one id: %d, %v", len(got), err)
	}
	// A message's missing timestamp is the batch's now.
	got, err = ingest.Batch(batchOf(2, func(_ int, m map[string]any) { delete(m, "timestamp") }), now)
	if err != nil || !got[0].Timestamp.Equal(now) || !got[1].Timestamp.Equal(now) {
		t.Errorf("absent timestamps in a batch: %v", err)
	}
}
