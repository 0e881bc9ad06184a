package ingest_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/ingest"
)

// broken is a placeholder that withRaw swaps for raw bytes after
// encoding/json, which would otherwise repair them, has encoded the body.
const broken = "BROKEN"

// withRaw is with(pairs...) with every broken replaced by raw.
func withRaw(raw string, pairs ...any) []byte {
	return bytes.ReplaceAll(with(pairs...), []byte(broken), []byte(raw))
}

// Invalid UTF-8 anywhere is refused, naming the field, rather than stored
// as U+FFFD (encoding/json's quiet repair).
func TestInvalidUTF8Refused(t *testing.T) {
	sender := map[string]any{"full_name": broken, "phone": "+15550001"}
	cases := []errorCase{
		{"text, a stray byte", withRaw("\xff", "text", "Hi "+broken), "text", "not valid UTF-8"},
		{"text, a cut sequence", withRaw("\xe2\x82", "text", "5 "+broken+" only"), "text", "not valid UTF-8"},
		{"text, an overlong slash", withRaw("\xc0\xaf", "text", broken), "text", "not valid UTF-8"},
		{"text, a surrogate in UTF-8", withRaw("\xed\xa0\x80", "text", broken), "text", "not valid UTF-8"},
		{"text, Latin-1", withRaw("Caf\xe9", "text", broken), "text", "0xe9"},
		{"text, a lone high surrogate", withRaw(`\ud83d`, "text", "Hi "+broken), "text", `\ud83d`},
		{"text, a lone high surrogate at the end", withRaw(`\uD83D`, "text", broken), "text", "surrogate"},
		{"text, a lone low surrogate", withRaw(`\ude00`, "text", broken), "text", "surrogate"},
		{"text, halves reversed", withRaw(`\ude00\ud83d`, "text", broken), "text", "surrogate"},
		{"text, a high half before a letter", withRaw(`\ud83d\u0041`, "text", broken), "text", "surrogate"},
		{"account.phone", withRaw("\xff", "account.phone", broken), "account.phone", "not valid UTF-8"},
		{"account.full_name", withRaw("\xff", "account.full_name", broken), "account.full_name", "not valid UTF-8"},
		{"account.email", withRaw("\xff", "account.email", "a"+broken+"@acme.com"), "account.email", "not valid UTF-8"},
		{"chat.external_id", withRaw("\xff", "chat.external_id", broken), "chat.external_id", "not valid UTF-8"},
		{"chat.full_name", withRaw("\xff", "chat.full_name", broken), "chat.full_name", "not valid UTF-8"},
		{"chat.phone", withRaw("\xff", "chat.phone", broken), "chat.phone", "not valid UTF-8"},
		{"message_id", withRaw("\xff", "message_id", broken), "message_id", "not valid UTF-8"},
		{"direction", withRaw("\xff", "direction", broken), "direction", "not valid UTF-8"},
		{"timestamp", withRaw("\xff", "timestamp", broken), "timestamp", "not valid UTF-8"},
		{"sender.full_name", withRaw("\xff", "sender", sender), "sender.full_name", "not valid UTF-8"},
		{"recipient.full_name", withRaw("\xff", "recipient", sender), "recipient.full_name", "not valid UTF-8"},
		{"sent_by.full_name", withRaw(`\udfff`, "sent_by", map[string]any{"full_name": broken}), "sent_by.full_name", "surrogate"},
		{"sent_by.email", withRaw("\xff", "sent_by", map[string]any{"email": broken + "@acme.com"}), "sent_by.email", "not valid UTF-8"},
		{"an attachment's field", withRaw("\xff", "attachments", []any{map[string]any{"type": "document", "url": "https://x.example/a", "file_name": "x" + broken}}), "attachments[0].file_name", "not valid UTF-8"},
		{"a key", withRaw("\xff", broken, 1), "\ufffd", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.Message(c.body, now)
			checkFieldError(t, err, c)
		})
	}
}

func TestInvalidUTF8RefusedInABatch(t *testing.T) {
	body := bytes.Replace(batchOf(5, func(i int, m map[string]any) {
		if i == 3 {
			m["text"] = "Hi " + broken
		}
	}), []byte(broken), []byte("\xff"), 1)
	got, err := ingest.Batch(body, now)
	checkFieldError(t, err, errorCase{field: "messages[3].text", says: "not valid UTF-8"})
	if got != nil {
		t.Errorf("a bad batch returned %d messages", len(got))
	}
	body = bytes.Replace(batchOf(2, func(i int, m map[string]any) {
		if i == 1 {
			m["chat"].(map[string]any)["full_name"] = broken
		}
	}), []byte(broken), []byte(`\ud800`), 1)
	_, err = ingest.Batch(body, now)
	checkFieldError(t, err, errorCase{field: "messages[1].chat.full_name", says: "surrogate"})
}

// Valid text survives as it was sent, however it was escaped.
func TestValidUTF8Kept(t *testing.T) {
	for raw, want := range map[string]string{
		"Hi! 👋":            "Hi! 👋",
		`Hi! \ud83d\udc4b`: "Hi! 👋",
		`Hi! \uD83D\uDC4B`: "Hi! 👋",
		`\\ud83d is text`:  `\ud83d is text`,
		`\u00e9t\u00e9`:    "été",
		"\u2028 \ufffd":    "\u2028 \ufffd", // U+FFFD sent as itself is valid
	} {
		in, err := ingest.Message(withRaw(raw, "text", broken), now)
		if err != nil || in.Text != want {
			t.Errorf("text %q: %q, %v; want %q", raw, in.Text, err, want)
		}
	}
	// Decode, used for every other API body, checks the same way.
	var v struct {
		FullName string `json:"full_name"`
	}
	err := ingest.Decode([]byte("{\"full_name\": \"J\xffhn\"}"), &v)
	checkFieldError(t, err, errorCase{field: "full_name", says: "not valid UTF-8"})
	if err := ingest.Decode([]byte(`{"full_name": "J\u00f6hn"}`), &v); err != nil || v.FullName != "Jöhn" {
		t.Errorf("valid name: %q, %v", v.FullName, err)
	}
}

// A timestamp before WhatsApp existed, or more than a day ahead of the
// service's clock, is a client's bug and refused.
func TestTimestampBounds(t *testing.T) {
	for _, c := range []struct {
		ts   string
		says string // "" means accepted
	}{
		{"2009-01-01T00:00:00Z", ""},
		{"2009-01-01T01:00:00+01:00", ""}, // the same instant
		{"2008-12-31T23:59:59Z", "before 2009"},
		{"2009-01-01T00:30:00+01:00", "before 2009"},
		{"1970-01-01T00:00:00Z", "before 2009"},
		{"0001-01-01T00:00:00Z", "before 2009"},
		{now.Add(ingest.MaxFuture).Format(time.RFC3339Nano), ""},
		{now.Add(ingest.MaxFuture + time.Millisecond).Format(time.RFC3339Nano), "in the future"},
		{now.Add(ingest.MaxFuture + time.Second).Format("2006-01-02T15:04:05-0700"), "in the future"},
		{"9999-12-31T23:59:59Z", "in the future"},
		{now.Add(-time.Hour).Format(time.RFC3339), ""},
	} {
		t.Run(c.ts, func(t *testing.T) {
			_, err := ingest.Message(with("timestamp", c.ts), now)
			if c.says == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			checkFieldError(t, err, errorCase{field: "timestamp", says: c.says})
		})
	}
	// The bound moves with the injected clock, not the machine's.
	later := now.Add(48 * time.Hour)
	if _, err := ingest.Message(with("timestamp", later.Format(time.RFC3339)), later); err != nil {
		t.Errorf("a timestamp of the clock's now: %v", err)
	}
}

// BenchmarkBatch decodes a batch of 1000 messages: "raw" holds UTF-8 text
// as Go's encoder writes it (the check's one-pass fast path), "escaped"
// every emoji as a \ud83d\udc4b pair, as Python's json.dumps writes it
// (the check walks the body).
func BenchmarkBatch(b *testing.B) {
	text := strings.Repeat("Hi! 👋 how are you? ", 20)
	raw := batchOf(ingest.MaxBatch, func(_ int, m map[string]any) { m["text"] = text })
	escaped := bytes.ReplaceAll(raw, []byte("👋"), []byte(`\ud83d\udc4b`))
	for name, body := range map[string][]byte{"raw": raw, "escaped": escaped} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ingest.Batch(body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
