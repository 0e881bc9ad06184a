package ingest_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

func with(path string, v any) []byte {
	m := valid()
	obj := m
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		obj = obj[p].(map[string]any)
	}
	if v == nil {
		delete(obj, parts[len(parts)-1])
	} else {
		obj[parts[len(parts)-1]] = v
	}
	data, _ := json.Marshal(m)
	return data
}

func TestMessageErrors(t *testing.T) {
	cases := []struct {
		name  string
		body  []byte
		field string
	}{
		{"empty body", []byte(``), "body"},
		{"malformed JSON", []byte(`{"account": `), "body"},
		{"syntax error", []byte(`{"account" 1}`), "body"},
		{"not an object", []byte(`[1, 2]`), "body"},
		{"two objects", append(with("text", "a"), []byte(` {}`)...), "body"},
		{"unknown field", with("direcion", "sent"), "direcion"},
		{"direction not a string", with("direction", 5), "direction"},
		{"is_group not a bool", with("chat.is_group", "yes"), "chat.is_group"},
		{"attachments not a list", with("attachments", "photo"), "attachments"},
		{"no account", with("account", nil), "account"},
		{"no account phone", with("account.phone", nil), "account.phone"},
		{"account phone with letters", with("account.phone", "+97250abc"), "account.phone"},
		{"account phone with spaces", with("account.phone", "+972 50 000 0000"), "account.phone"},
		{"account phone too short", with("account.phone", "+123"), "account.phone"},
		{"account email", with("account.email", "amnon.acme.com"), "account.email"},
		{"account name too long", with("account.full_name", strings.Repeat("n", 257)), "account.full_name"},
		{"no chat", with("chat", nil), "chat"},
		{"no chat id at all", with("chat", map[string]any{"full_name": "x"}), "chat.external_id"},
		{"group without id", with("chat", map[string]any{"is_group": true, "phone": "+97254000000"}), "chat.external_id"},
		{"chat id too long", with("chat.external_id", strings.Repeat("1", 257)), "chat.external_id"},
		{"chat id with a newline", with("chat.external_id", "a\nb"), "chat.external_id"},
		{"chat phone", with("chat.phone", "call me"), "chat.phone"},
		{"chat name too long", with("chat.full_name", strings.Repeat("名", 257)), "chat.full_name"},
		{"no message_id", with("message_id", nil), "message_id"},
		{"empty message_id", with("message_id", ""), "message_id"},
		{"message_id too long", with("message_id", strings.Repeat("x", 257)), "message_id"},
		{"no direction", with("direction", nil), "direction"},
		{"unknown direction", with("direction", "sideways"), "direction"},
		{"timestamp not a time", with("timestamp", "yesterday"), "timestamp"},
		{"timestamp without zone", with("timestamp", "2021-02-24T16:25:29"), "timestamp"},
		{"sender phone", with("sender", map[string]any{"full_name": "x", "phone": "12"}), "sender.phone"},
		{"recipient name too long", with("recipient", map[string]any{"full_name": strings.Repeat("r", 257)}), "recipient.full_name"},
		{"sent_by email", with("sent_by", map[string]any{"full_name": "Jane", "email": "jane@"}), "sent_by.email"},
		{"sent_by unknown field", with("sent_by", map[string]any{"name": "Jane"}), "name"},
		{"no text", with("text", nil), "text"},
		{"blank text", with("text", " \n\t"), "text"},
		{"text too long", with("text", strings.Repeat("👋", ingest.MaxText+1)), "text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.Message(c.body, now)
			var fe *ingest.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FieldError naming %s", err, c.field)
			}
			if fe.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, c.field, err)
			}
			if len(fe.Problem) < 8 {
				t.Errorf("problem %q says too little", fe.Problem)
			}
		})
	}
}

func TestMessageAccepts(t *testing.T) {
	rfc, err := ingest.Message(with("timestamp", "2021-02-24T18:25:29+02:00"), now)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := ingest.Message(with("timestamp", "2021-02-24T16:25:29+0000"), now)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2021, 2, 24, 16, 25, 29, 0, time.UTC)
	if !rfc.Timestamp.Equal(want) || !wire.Timestamp.Equal(want) || rfc.Timestamp.Location() != time.UTC {
		t.Errorf("timestamps %v and %v, want %v in UTC", rfc.Timestamp, wire.Timestamp, want)
	}
	if in, _ := ingest.Message(with("timestamp", nil), now); !in.Timestamp.Equal(now) {
		t.Errorf("absent timestamp = %v, want now", in.Timestamp)
	}

	// The longest text WhatsApp allows passes, counted in characters.
	long := strings.Repeat("👋", ingest.MaxText)
	if in, err := ingest.Message(with("text", long), now); err != nil || in.Text != long {
		t.Errorf("text of %d emoji: %v", ingest.MaxText, err)
	}

	direct, err := ingest.Message(with("chat", map[string]any{"phone": "+97254000000"}), now)
	if err != nil || direct.Chat.ExternalID != "+97254000000" {
		t.Errorf("a direct chat with only a phone: external_id %q, %v", direct.Chat.ExternalID, err)
	}
	contact, err := ingest.Message(with("chat", map[string]any{"external_id": "+97254000000"}), now)
	if err != nil || contact.Chat.Phone != "+97254000000" {
		t.Errorf("a direct chat with only an external_id: phone %q, %v", contact.Chat.Phone, err)
	}
	group, err := ingest.Message(with("chat", map[string]any{"external_id": "120363043968@g.us", "is_group": true, "phone": "+97254000000"}), now)
	if err != nil || !group.Chat.IsGroup || group.Chat.Phone != "" {
		t.Errorf("a group: %+v, %v; want phone \"\"", group.Chat, err)
	}

	photo, err := ingest.Message(with("attachments", []any{map[string]any{"type": "image", "url": "https://x.example/1.jpg"}}), now)
	if err != nil || photo.SkipReason == "" {
		t.Errorf("with attachments: skip reason %q, %v", photo.SkipReason, err)
	}
	m := valid()
	delete(m, "text")
	m["attachments"] = []any{map[string]any{"type": "image"}}
	data, _ := json.Marshal(m)
	if in, err := ingest.Message(data, now); err != nil || in.SkipReason == "" {
		t.Errorf("attachments without text must be kept as skipped, got %v", err)
	}

	full, err := ingest.Message(with("sent_by", map[string]any{"full_name": "Jane", "email": "jane@acme.com"}), now)
	if err != nil || full.SentByName != "Jane" || full.Sender != nil || full.UUID == "" || full.Direction != chathook.Received {
		t.Errorf("sent_by: %+v, %v", full, err)
	}
}

func TestBatch(t *testing.T) {
	batch := func(n int, bad int) []byte {
		var msgs []json.RawMessage
		for i := range n {
			m := valid()
			m["message_id"] = fmt.Sprint("m", i)
			if i == bad {
				m["direction"] = "sideways"
			}
			data, _ := json.Marshal(m)
			msgs = append(msgs, data)
		}
		data, _ := json.Marshal(map[string]any{"messages": msgs})
		return data
	}
	for _, c := range []struct {
		name  string
		body  []byte
		field string
	}{
		{"no messages key", []byte(`{}`), "messages"},
		{"messages null", []byte(`{"messages": null}`), "messages"},
		{"empty list", []byte(`{"messages": []}`), "messages"},
		{"over 1000", batch(ingest.MaxBatch+1, -1), "messages"},
		{"a bad message names its index", batch(5, 3), "messages[3].direction"},
		{"a message that is not an object", []byte(`{"messages": [7]}`), "messages[0]"},
		{"unknown top-level key", []byte(`{"messages": [], "extra": 1}`), "extra"},
		{"malformed", []byte(`{"messages": [`), "body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ingest.Batch(c.body, now)
			var fe *ingest.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("err = %v, want a FieldError naming %s", err, c.field)
			}
			if got != nil {
				t.Errorf("a bad batch returned %d messages", len(got))
			}
		})
	}
	got, err := ingest.Batch(batch(ingest.MaxBatch, -1), now)
	if err != nil || len(got) != ingest.MaxBatch {
		t.Fatalf("a full batch: %d messages, %v", len(got), err)
	}
	if got[0].MessageID != "m0" || got[999].MessageID != "m999" || got[0].UUID == got[1].UUID {
		t.Errorf("order or ids lost: %s %s", got[0].MessageID, got[999].MessageID)
	}
}
