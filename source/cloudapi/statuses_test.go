package cloudapi

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

const replyUUID = "0b7f6c1e-9d1a-4c55-8a3e-2f0c9a4d7e11"

// TestStatuses: each of Meta's statuses[] becomes a FactStatus of the
// chat of its recipient; a failed one says why in Meta's code and title;
// a status chathook does not map becomes nothing.
func TestStatuses(t *testing.T) {
	const head = `"id": "wamid.S", "timestamp": "1749416420", "recipient_id": "16505551234", `
	at := time.Unix(1749416420, 0).UTC()
	long := strings.Repeat("x", maxDetails+1)
	for _, c := range []struct {
		name, js string
		want     *chathook.Fact // nil: nothing
	}{
		{"sent", `"status": "sent"`, &chathook.Fact{Status: chathook.StatusSent}},
		{"delivered, with conversation and pricing", `"status": "delivered", "conversation": {"id": "c", "origin": {"type": "service"}}, "pricing": {"billable": false, "category": "service"}`,
			&chathook.Fact{Status: chathook.StatusDelivered}},
		{"read", `"status": "read"`, &chathook.Fact{Status: chathook.StatusRead}},
		{"a reply's", `"status": "delivered", "biz_opaque_callback_data": "` + replyUUID + `"`,
			&chathook.Fact{Status: chathook.StatusDelivered, ReplyID: replyUUID}},
		{"another system's callback data", `"status": "delivered", "biz_opaque_callback_data": "order-1234"`,
			&chathook.Fact{Status: chathook.StatusDelivered}},
		{"a UUID not as chathook spells it", `"status": "delivered", "biz_opaque_callback_data": "{` + replyUUID + `}"`,
			&chathook.Fact{Status: chathook.StatusDelivered}},
		{"failed", `"status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
			"error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]`,
			&chathook.Fact{Status: chathook.StatusFailed, Error: "131047: Re-engagement message (Message failed to send because more than 24 hours have passed since the customer last replied to this number.)"}},
		{"failed, long details", `"status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "` + long + `"}}]`,
			&chathook.Fact{Status: chathook.StatusFailed, Error: "131026: Message undeliverable"}},
		{"failed, a message and no title", `"status": "failed", "errors": [{"code": 131000, "message": "Something went\nwrong"}]`,
			&chathook.Fact{Status: chathook.StatusFailed, Error: "131000: Something went wrong"}},
		{"failed, no errors", `"status": "failed"`,
			&chathook.Fact{Status: chathook.StatusFailed, Error: "Meta reported it failed, without saying why"}},
		{"deleted", `"status": "deleted"`, nil},
		{"a status of tomorrow", `"status": "played_twice"`, nil},
	} {
		f, ok, err := mapStatus(json.RawMessage(`{`+head+c.js+`}`), "s", now)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == nil:
			if ok {
				t.Errorf("%s: mapped to %+v, want nothing", c.name, f)
			}
		case !ok:
			t.Errorf("%s: nothing, want a status", c.name)
		default:
			want := *c.want
			want.Kind, want.Chat, want.MessageID, want.At = chathook.FactStatus, "+16505551234", "wamid.S", at
			if f != want {
				t.Errorf("%s:\n got %+v\nwant %+v", c.name, f, want)
			}
		}
	}
}

// TestStatusErrors: a status that breaks the rules is named by its path.
func TestStatusErrors(t *testing.T) {
	for _, c := range []struct{ name, js, field string }{
		{"no status", `{"id": "w", "timestamp": "1749416420", "recipient_id": "16505551234"}`, "s.status"},
		{"no id", `{"status": "read", "timestamp": "1749416420", "recipient_id": "16505551234"}`, "s.id"},
		{"a control character in the id", `{"id": "w\n", "status": "read", "timestamp": "1749416420", "recipient_id": "16505551234"}`, "s.id"},
		{"no recipient", `{"id": "w", "status": "read", "timestamp": "1749416420"}`, "s.recipient_id"},
		{"a group as recipient", `{"id": "w", "status": "read", "timestamp": "1749416420", "recipient_id": "Y2FwaV9ncm91cDox"}`, "s.recipient_id"},
		{"no timestamp", `{"id": "w", "status": "read", "recipient_id": "16505551234"}`, "s.timestamp"},
		{"a day ahead", `{"id": "w", "status": "read", "timestamp": "1749600000", "recipient_id": "16505551234"}`, "s.timestamp"},
		{"a code not a number", `{"id": "w", "status": "failed", "timestamp": "1749416420", "recipient_id": "16505551234", "errors": [{"code": "x"}]}`, "s.errors.code"},
		{"not an object", `"read"`, "s"},
	} {
		_, _, err := mapStatus(json.RawMessage(c.js), "s", now)
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

// TestReactions: a customer's reaction, or one taken back, is a
// FactReaction of the chat by the message reacted to; the business's own,
// from the Business app, is the number's.
func TestReactions(t *testing.T) {
	names := map[string]string{"+16505551234": "Sheena Nelson"}
	at := time.Unix(1749416410, 0).UTC()
	sheena := chathook.Person{FullName: "Sheena Nelson", Phone: "+16505551234"}
	for _, c := range []struct {
		name, js string
		echo     bool
		want     chathook.Fact
	}{
		{"a reaction", `{"from": "16505551234", "id": "wamid.R", "timestamp": "1749416410", "type": "reaction", "reaction": {"message_id": "wamid.M", "emoji": "👍"}}`, false,
			chathook.Fact{Reaction: "👍", Sender: sheena, SenderKey: sheena.Phone}},
		{"taken back", `{"from": "16505551234", "id": "wamid.R", "timestamp": "1749416410", "type": "reaction", "reaction": {"message_id": "wamid.M"}}`, false,
			chathook.Fact{Sender: sheena, SenderKey: sheena.Phone}},
		{"a family emoji, and a stray control", `{"from": "16505551234", "id": "wamid.R", "timestamp": "1749416410", "type": "reaction", "reaction": {"message_id": "wamid.M", "emoji": "👨‍👩‍👧\u0000"}}`, false,
			chathook.Fact{Reaction: "👨‍👩‍👧", Sender: sheena, SenderKey: sheena.Phone}},
		{"the number's own, an echo", `{"from": "15550783881", "to": "16505551234", "id": "wamid.R", "timestamp": "1749416410", "type": "reaction", "reaction": {"message_id": "wamid.M", "emoji": "❤️"}}`, true,
			chathook.Fact{Reaction: "❤️", Sender: chathook.Person{FullName: shop.FullName, Phone: shop.Phone}, SenderKey: shop.Phone}},
	} {
		var m message
		if err := json.Unmarshal([]byte(c.js), &m); err != nil {
			t.Fatal(err)
		}
		f, err := mapReaction(m, "m", shop, c.echo, names, now)
		want := c.want
		want.Kind, want.Chat, want.MessageID, want.ID, want.At = chathook.FactReaction, "+16505551234", "wamid.M", "wamid.R", at
		if err != nil || f != want {
			t.Errorf("%s: %v\n got %+v\nwant %+v", c.name, err, f, want)
		}
	}
	for _, c := range []struct{ name, js, field string }{
		{"no id", `{"from": "16505551234", "timestamp": "1749416410", "reaction": {"message_id": "wamid.M"}}`, "m.id"},
		{"no object", `{"from": "16505551234", "id": "r", "timestamp": "1749416410"}`, "m.reaction"},
		{"no message reacted to", `{"from": "16505551234", "id": "r", "timestamp": "1749416410", "reaction": {"emoji": "👍"}}`, "m.reaction.message_id"},
		{"from not a number", `{"from": "sheena", "id": "r", "timestamp": "1749416410", "reaction": {"message_id": "wamid.M"}}`, "m.from"},
		{"a timestamp in milliseconds", `{"from": "16505551234", "id": "r", "timestamp": "1749416410000", "reaction": {"message_id": "wamid.M"}}`, "m.timestamp"},
	} {
		var m message
		if err := json.Unmarshal([]byte(c.js), &m); err != nil {
			t.Fatal(err)
		}
		_, err := mapReaction(m, "m", shop, false, names, now)
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

// TestTextCleaned: a NUL, a broken byte or another control character is
// cleaned as a QR-linked account's text is, not a reason to leave the
// message out.
func TestTextCleaned(t *testing.T) {
	for js, want := range map[string]string{
		`"type": "text", "text": {"body": "a\u0000b\u0007c"}`:                  "ab\ac",
		`"type": "text", "text": {"body": "line one\nline two"}`:               "line one\nline two",
		`"type": "image", "image": {"id": "1", "caption": "\u0000look\u0000"}`: "look",
		`"type": "button", "button": {"text": "Yes\u0000"}`:                    "Yes",
	} {
		in, ok, err := mapOne(t, `{"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383", `+js+`}`, false)
		if err != nil || !ok || in.Text != want {
			t.Errorf("%s: %q, %v %v; want %q", js, in.Text, ok, err, want)
		}
	}
	// Invalid UTF-8, which encoding/json turns into U+FFFD.
	in, ok, err := mapOne(t, "{\"from\": \"16505551234\", \"id\": \"wamid.X\", \"timestamp\": \"1749416383\", \"type\": \"text\", \"text\": {\"body\": \"bad \xff\"}}", false)
	if err != nil || !ok || in.Text != "bad \uFFFD" {
		t.Errorf("invalid UTF-8: %q, %v %v", in.Text, ok, err)
	}
}

// TestLeftOut: one message or status that breaks the rules is left out,
// named by its path, and the rest of the POST is read: SPEC 5.2.
func TestLeftOut(t *testing.T) {
	const good1 = `{"from": "16505551234", "id": "w1", "timestamp": "1749416383", "type": "text", "text": {"body": "one"}}`
	const good2 = `{"from": "16505551234", "id": "w2", "timestamp": "1749416384", "type": "text", "text": {"body": "two"}}`
	for _, c := range []struct{ name, bad, field string }{
		{"a timestamp a day ahead", `{"from": "16505551234", "id": "b", "timestamp": "1749600000", "type": "text", "text": {"body": "x"}}`, "timestamp"},
		{"a timestamp in milliseconds", `{"from": "16505551234", "id": "b", "timestamp": "1749416383000", "type": "text", "text": {"body": "x"}}`, "timestamp"},
		{"a from not a number", `{"from": "sheena", "id": "b", "timestamp": "1749416383", "type": "text", "text": {"body": "x"}}`, "from"},
		{"no id", `{"from": "16505551234", "timestamp": "1749416383", "type": "text", "text": {"body": "x"}}`, "id"},
		{"blank text", `{"from": "16505551234", "id": "b", "timestamp": "1749416383", "type": "text", "text": {"body": " \u200b"}}`, "text.body"},
		{"a text not a string", `{"from": "16505551234", "id": "b", "timestamp": "1749416383", "type": "text", "text": {"body": 5}}`, "text.body"},
		{"not an object", `"hello"`, ""},
		{"a reaction to nothing", `{"from": "16505551234", "id": "b", "timestamp": "1749416383", "type": "reaction", "reaction": {"emoji": "👍"}}`, "reaction.message_id"},
	} {
		body := `{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
			"metadata": {"phone_number_id": "106540352242922"},
			"messages": [` + good1 + `, ` + c.bad + `, ` + good2 + `]}}]}]}`
		n, err := parse([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := read(n, numbers(chathook.CloudAPINumber{Account: shop, AppSecret: "one"}), func(chathook.CloudAPINumber) bool { return true }, now)
		if err != nil {
			t.Errorf("%s: %v, want the POST read", c.name, err)
			continue
		}
		var ids []string
		for _, in := range b.msgs {
			ids = append(ids, in.MessageID)
		}
		want := "entry[0].changes[0].value.messages[1]"
		if c.field != "" {
			want += "." + c.field
		}
		if !slices.Equal(ids, []string{"w1", "w2"}) || len(b.leftOut) != 1 || b.leftOut[0].Field != want || len(b.facts) != 0 {
			t.Errorf("%s: messages %q, facts %v, left out %v; want w1 and w2, %s left out", c.name, ids, b.facts, b.leftOut, want)
		}
	}
}
