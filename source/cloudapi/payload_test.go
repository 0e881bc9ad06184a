package cloudapi

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
)

var (
	now  = time.Date(2025, 6, 9, 0, 0, 0, 0, time.UTC)
	shop = chathook.Account{ID: 7, Phone: "+15550783881", FullName: "Shop", Email: "ops@acme.example", PhoneNumberID: "106540352242922"}
)

// mapOne maps one message of Meta's JSON, as a message or an echo, of a
// value whose contacts name +16505551234 "Sheena Nelson".
func mapOne(t *testing.T, js string, echo bool) (chathook.Incoming, bool, error) {
	t.Helper()
	var m message
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	names := contactNames([]contact{{WaID: "16505551234", Profile: struct {
		Name string `json:"name"`
	}{"Sheena Nelson"}}})
	return mapMessage(m, "m", shop, echo, names, now)
}

// TestMessageTypes: SPEC 5.2's table, type by type.
func TestMessageTypes(t *testing.T) {
	const head = `"from": "16505551234", "id": "wamid.X", "timestamp": "1749416383", `
	for _, c := range []struct {
		name, js string
		text     string // "-": becomes nothing
		skipped  bool
	}{
		{"text", `"type": "text", "text": {"body": "Hi 👋"}`, "Hi 👋", false},
		{"image with caption", `"type": "image", "image": {"id": "1", "caption": "look"}`, "look", true},
		{"image", `"type": "image", "image": {"id": "1", "mime_type": "image/jpeg"}`, "", true},
		{"video with caption", `"type": "video", "video": {"id": "1", "caption": "clip"}`, "clip", true},
		{"document with caption", `"type": "document", "document": {"id": "1", "filename": "a.pdf", "caption": "invoice"}`, "invoice", true},
		{"audio", `"type": "audio", "audio": {"id": "1", "voice": true}`, "", true},
		{"sticker", `"type": "sticker", "sticker": {"id": "1", "animated": false}`, "", true},
		{"location", `"type": "location", "location": {"latitude": 1, "longitude": 2, "name": "Shop"}`, "", true},
		{"contacts", `"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob"}}]`, "", true},
		{"no contacts", `"type": "contacts", "contacts": []`, "-", false},
		{"location without its object", `"type": "location"`, "-", false},
		{"order", `"type": "order", "order": {"catalog_id": "1", "product_items": []}`, "-", false},
		{"button", `"type": "button", "button": {"text": "Yes, confirm", "payload": "CONFIRM"}`, "Yes, confirm", false},
		{"button reply", `"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": "Book"}}`, "Book", false},
		{"list reply", `"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "l", "title": "Tuesday", "description": "10:00"}}`, "Tuesday", false},
		{"flow reply", `"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{}"}}`, "-", false},
		{"reaction", `"type": "reaction", "reaction": {"message_id": "wamid.Y", "emoji": "👍"}`, "-", false},
		{"reaction removed", `"type": "reaction", "reaction": {"message_id": "wamid.Y"}`, "-", false},
		{"system", `"type": "system", "system": {"body": "changed number", "type": "user_changed_number"}`, "-", false},
		{"unsupported", `"type": "unsupported", "errors": [{"code": 131051}]`, "-", false},
		{"unknown", `"type": "unknown"`, "-", false},
		{"request_welcome", `"type": "request_welcome"`, "-", false},
		{"ephemeral", `"type": "ephemeral"`, "-", false},
		{"a type of tomorrow", `"type": "hologram", "hologram": {}`, "-", false},
		{"text without its object", `"type": "text"`, "-", false},
	} {
		in, ok, err := mapOne(t, `{`+head+c.js+`}`, false)
		switch {
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.text == "-":
			if ok {
				t.Errorf("%s: mapped to %+v, want nothing", c.name, in)
			}
		case !ok:
			t.Errorf("%s: nothing, want a message", c.name)
		case in.Text != c.text || (in.SkipReason == ingest.SkipAttachments) != c.skipped:
			t.Errorf("%s: text %q skipped %q, want %q skipped %v", c.name, in.Text, in.SkipReason, c.text, c.skipped)
		}
	}
}

// TestReceivedAndEcho: who the chat is with, who names it, and when.
func TestReceivedAndEcho(t *testing.T) {
	in, ok, err := mapOne(t, `{"from": "16505551234", "id": "wamid.R", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := chathook.Incoming{
		Account:   chathook.Account{Phone: shop.Phone, FullName: shop.FullName, Email: shop.Email},
		Chat:      chathook.Chat{ExternalID: "+16505551234", Phone: "+16505551234", FullName: "Sheena Nelson"},
		MessageID: "wamid.R", UUID: in.UUID, Direction: chathook.Received,
		Timestamp: time.Date(2025, 6, 8, 20, 59, 43, 0, time.UTC), Text: "Hi",
	}
	if in.UUID == "" || in.Sender != nil || in.Recipient != nil || in.Account != want.Account || in.Chat != want.Chat ||
		in.MessageID != want.MessageID || in.Direction != want.Direction || !in.Timestamp.Equal(want.Timestamp) || in.Text != want.Text {
		t.Errorf("received\n got %+v\nwant %+v", in, want)
	}

	// An echo: sent by the number to "to" (Meta writes it with a "+"), a
	// timestamp as a number; no contact name, which keeps the stored one.
	in, ok, err = mapOne(t, `{"from": "15550783881", "to": "+16505551234", "id": "wamid.E", "timestamp": 1749416460, "type": "text", "text": {"body": "Yes"}}`, true)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if in.Direction != chathook.Sent || in.Chat != (chathook.Chat{ExternalID: "+16505551234", Phone: "+16505551234"}) ||
		in.Timestamp.Unix() != 1749416460 || in.Account.Phone != shop.Phone {
		t.Errorf("echo %+v", in)
	}

	// A sender the contacts do not name: the chat is named by its number
	// when created.
	in, _, _ = mapOne(t, `{"from": "447700900123", "id": "wamid.O", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, false)
	if in.Chat.FullName != "" || in.Chat.Phone != "+447700900123" {
		t.Errorf("unnamed sender %+v", in.Chat)
	}
}

// TestContactNames: a profile name is made fit to store, not refused.
func TestContactNames(t *testing.T) {
	long := strings.Repeat("é", ingest.MaxName+10)
	var cs []contact
	if err := json.Unmarshal([]byte(`[{"wa_id": "1555", "profile": {"name": "A\u0000B\nC "}}, {"wa_id": "+1666", "profile": {"name": "`+long+`"}}, {"profile": {"name": "no id"}}]`), &cs); err != nil {
		t.Fatal(err)
	}
	names := contactNames(cs)
	if names["+1555"] != "A B C" || names["+1666"] != long[:2*ingest.MaxName] || len(names) != 2 {
		t.Errorf("names %q", names)
	}
}

// TestMessageErrors: what chathook cannot read is named by its path in
// Meta's payload.
func TestMessageErrors(t *testing.T) {
	for _, c := range []struct {
		name, js, echoJS, field string
	}{
		{"no id", `{"from": "16505551234", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, "", "m.id"},
		{"no from", `{"id": "w", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, "", "m.from"},
		{"no to in an echo", "", `{"from": "15550783881", "id": "w", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, "m.to"},
		{"from not a number", `{"from": "abc", "id": "w", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, "", "m.from"},
		{"no timestamp", `{"from": "16505551234", "id": "w", "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"timestamp null", `{"from": "16505551234", "id": "w", "timestamp": null, "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"timestamp not a number", `{"from": "16505551234", "id": "w", "timestamp": "soon", "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"timestamp zero", `{"from": "16505551234", "id": "w", "timestamp": "0", "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"timestamp before WhatsApp", `{"from": "16505551234", "id": "w", "timestamp": "1000", "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"timestamp in milliseconds", `{"from": "16505551234", "id": "w", "timestamp": "1749416383000", "type": "text", "text": {"body": "Hi"}}`, "", "m.timestamp"},
		{"empty text", `{"from": "16505551234", "id": "w", "timestamp": "1749416383", "type": "text", "text": {"body": ""}}`, "", "m.text.body"},
		{"only NULs as text", `{"from": "16505551234", "id": "w", "timestamp": "1749416383", "type": "text", "text": {"body": "\u0000\u0000"}}`, "", "m.text.body"},
		{"id too long", `{"from": "16505551234", "id": "` + strings.Repeat("w", 300) + `", "timestamp": "1749416383", "type": "text", "text": {"body": "Hi"}}`, "", "m.id"},
	} {
		js, echo := c.js, false
		if js == "" {
			js, echo = c.echoJS, true
		}
		_, _, err := mapOne(t, js, echo)
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

func numbers(ns ...chathook.CloudAPINumber) map[string]chathook.CloudAPINumber {
	m := map[string]chathook.CloudAPINumber{}
	for _, n := range ns {
		m[n.PhoneNumberID] = n
	}
	return m
}

// TestRead: a POST is read whole: changes of every entry, numbers known,
// unknown and another app's, fields chathook does not read.
func TestRead(t *testing.T) {
	a := chathook.CloudAPINumber{Account: shop, AppSecret: "one"}
	b := chathook.CloudAPINumber{Account: chathook.Account{ID: 8, Phone: "+15550783882", PhoneNumberID: "222"}, AppSecret: "two"}
	bySecretOne := func(n chathook.CloudAPINumber) bool { return n.AppSecret == "one" }
	body := `{"object": "whatsapp_business_account", "entry": [
		{"id": "1", "changes": [
			{"field": "messages", "value": {"metadata": {"phone_number_id": "106540352242922"},
				"contacts": [{"wa_id": "16505551234", "profile": {"name": "Sheena"}}],
				"messages": [
					{"from": "16505551234", "id": "w1", "timestamp": "1749416383", "type": "text", "text": {"body": "one"}},
					{"from": "16505551234", "id": "w2", "timestamp": "1749416384", "type": "reaction", "reaction": {"message_id": "w1", "emoji": "👍"}}],
				"statuses": [
					{"id": "w0", "status": "read", "timestamp": "1749416385", "recipient_id": "16505551234"},
					{"id": "w0", "status": "deleted", "timestamp": "1749416386", "recipient_id": "16505551234"},
					{"id": "w0", "status": "delivered"}],
				"errors": [{"code": 131000}]}},
			{"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]},
		{"id": "2", "changes": [
			{"field": "messages", "value": {"metadata": {"phone_number_id": "999"},
				"messages": [{"from": "1", "id": "x", "timestamp": "1", "type": "text", "text": {"body": "lost"}}]}},
			{"field": "smb_message_echoes", "value": {"metadata": {"phone_number_id": "106540352242922"},
				"message_echoes": [{"from": "15550783881", "to": "16505551234", "id": "w3", "timestamp": "1749416390", "type": "text", "text": {"body": "two"}}]}},
			{"field": "messages", "value": {"metadata": {"phone_number_id": "999"}, "statuses": [{"id": "y"}]}}]}]}`
	n, err := parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	b1, err := read(n, numbers(a, b), bySecretOne, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range b1.msgs {
		got = append(got, in.MessageID+" "+string(in.Direction)+" "+in.Text)
	}
	if !slices.Equal(got, []string{"w1 received one", "w3 sent two"}) {
		t.Errorf("messages %q", got)
	}
	if len(b1.named) != 1 || b1.named[0].ID != shop.ID || !slices.Equal(b1.unknown, []string{"999"}) || b1.statuses != 1 || b1.errors != 1 ||
		ignored(b1.ignored) != "field account_update: 1, status deleted: 1" {
		t.Errorf("named %v, unknown %v, %d statuses, %d errors, ignored %q", b1.named, b1.unknown, b1.statuses, b1.errors, ignored(b1.ignored))
	}
	// The reaction and the status, in the POST's order, as Shop's; the
	// status without recipient and time left out.
	got = nil
	for _, af := range b1.facts {
		for _, f := range af.facts {
			got = append(got, fmt.Sprintf("%d %s %s %s", af.accountID, f.Kind, f.MessageID, f.Status))
		}
	}
	if !slices.Equal(got, []string{"7 reaction w1 ", "7 status w0 read"}) {
		t.Errorf("facts %q", got)
	}
	if len(b1.leftOut) != 1 || b1.leftOut[0].Field != "entry[0].changes[0].value.statuses[2].recipient_id" {
		t.Errorf("left out %v", b1.leftOut)
	}

	// Signed by app "two" only: Shop's changes are not its to send.
	_, err = read(n, numbers(a, b), func(n chathook.CloudAPINumber) bool { return n.AppSecret == "two" }, now)
	var other *otherAppError
	if !errors.As(err, &other) || other.PhoneNumberID != shop.PhoneNumberID {
		t.Errorf("signed by another app: %v", err)
	}
	// ... even when the bad message comes first: the signature is looked
	// at before any message is read.
	bad := strings.Replace(body, `"id": "x", "timestamp": "1"`, `"id": "x"`, 1)
	bad = strings.Replace(bad, `"phone_number_id": "999"},
				"messages"`, `"phone_number_id": "222"},
				"messages"`, 1)
	n, err = parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read(n, numbers(a, b), bySecretOne, now); !errors.As(err, &other) || other.PhoneNumberID != "222" {
		t.Errorf("another app's number with a bad message: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for body, field := range map[string]string{
		``:                                "body",
		`{`:                               "body",
		`"x"`:                             "body",
		`{"object": "page", "entry": []}`: "object",
		`{"entry": []}`:                   "object",
		`{"object": "whatsapp_business_account"}`:                                                       "entry",
		`{"object": "whatsapp_business_account", "entry": [{"changes": {}}]}`:                           "entry.changes",
		`{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": 1}}]}]}`: "entry.changes.value.messages",
	} {
		_, err := parse([]byte(body))
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want an error naming %s", body, err, field)
		}
	}
	if _, err := parse([]byte(`{"object": "whatsapp_business_account", "entry": [], "new_field": {"of": "tomorrow"}}`)); err != nil {
		t.Errorf("an unknown field: %v, want it ignored", err)
	}
}

func TestSignatureHeader(t *testing.T) {
	sum := sign("secret", []byte("body"))
	good := "sha256=" + strings.Repeat("0", 64)
	for header, ok := range map[string]bool{
		good: true, strings.ToUpper(good[:7]) + good[7:]: false, "": false, "sha256=": false,
		"sha1=" + strings.Repeat("0", 40): false, "sha256=" + strings.Repeat("0", 62): false, good + "00": false, good[:70] + "zz": false,
	} {
		if _, err := signature(header); (err == nil) != ok {
			t.Errorf("%q: %v", header, err)
		}
	}
	if got, err := signature("sha256=" + strings.ToUpper(hex.EncodeToString(sum))); err != nil || string(got) != string(sum) {
		t.Errorf("upper case hex: %v", err)
	}
}
