package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/google/uuid"
)

// notification is the body of Meta's webhook POST, as far as chathook
// reads it. Meta adds fields as it pleases, so unknown ones are ignored.
type notification struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WhatsApp Business Account's
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"`
	Value value  `json:"value"`
}

type value struct {
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []contact `json:"contacts"`
	// Messages, echoes and statuses are decoded one by one (see read):
	// one of the wrong shape is left out, not the POST.
	Messages      []json.RawMessage `json:"messages"`
	MessageEchoes []json.RawMessage `json:"message_echoes"`
	Statuses      []json.RawMessage `json:"statuses"`
	Errors        []json.RawMessage `json:"errors"`
}

// contact is a customer as value.contacts[] names one: wa_id is the
// from of their messages.
type contact struct {
	WaID    string `json:"wa_id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

// message is one of value.messages[] (from a customer) or
// value.message_echoes[] (from the WhatsApp Business app on the
// number: To is the customer).
type message struct {
	From      string          `json:"from"`
	To        string          `json:"to"`
	ID        string          `json:"id"`
	Timestamp json.RawMessage `json:"timestamp"` // Unix seconds, a string in Meta's examples; a number is taken too
	Type      string          `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *metaMedia    `json:"image"`
	Video    *metaMedia    `json:"video"`
	Audio    *metaMedia    `json:"audio"`
	Document *metaMedia    `json:"document"`
	Sticker  *metaMedia    `json:"sticker"`
	Location *location     `json:"location"`
	Contacts []metaContact `json:"contacts"`
	Button   *struct {
		Text string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *reply `json:"button_reply"`
		ListReply   *reply `json:"list_reply"`
	} `json:"interactive"`
	Reaction *struct {
		MessageID string `json:"message_id"` // the wamid reacted to
		Emoji     string `json:"emoji"`      // absent when taken back
	} `json:"reaction"`
}

type reply struct {
	Title string `json:"title"`
}

// Change fields chathook reads; Meta sends others (account_update,
// message_template_status_update, ...) to the same callback URL when the
// app subscribes to them.
const (
	fieldMessages = "messages"
	fieldEchoes   = "smb_message_echoes"
)

// parse decodes a body whose signature has been checked. What is not
// Meta's JSON is a *ingest.FieldError naming where.
func parse(body []byte) (notification, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return n, jsonError(err)
	}
	switch {
	case n.Object == "":
		return n, fieldErr("object", `required: Meta's WhatsApp webhooks say "whatsapp_business_account"`)
	case n.Object != "whatsapp_business_account":
		return n, fieldErr("object", fmt.Sprintf(`%q is not "whatsapp_business_account": not a WhatsApp webhook`, ingest.Cut(n.Object, 64)))
	case n.Entry == nil:
		return n, fieldErr("entry", "required: the list of changes Meta notifies")
	}
	return n, nil
}

// jsonError says what encoding/json found, naming the field when it can
// (encoding/json names it without list indices: "entry.changes.value").
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fieldErr("body", fmt.Sprintf("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.As(err, &typ) && typ.Field != "":
		return fieldErr(typ.Field, fmt.Sprintf("must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value))
	case errors.As(err, &typ):
		return fieldErr("body", fmt.Sprintf("must be a JSON object, not %s", typ.Value))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("body", "invalid JSON: it ends too soon")
	}
	return fieldErr("body", "invalid JSON")
}

// decodeAt decodes one element of a list whose path is base, naming the
// field of base that is of the wrong type.
func decodeAt(raw json.RawMessage, v any, base string) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && typ.Field != "" {
		return fieldErr(base+"."+typ.Field, fmt.Sprintf("must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value))
	}
	if errors.As(err, &typ) {
		return fieldErr(base, fmt.Sprintf("must be a JSON object, not %s", typ.Value))
	}
	return fieldErr(base, "invalid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a " + kind
}

// tally is what one POST held besides the messages stored, for its log
// line.
type tally struct {
	statuses, errors int            // statuses mapped to facts; value.errors[]
	unknown          []string       // phone number ids of no number of the workspace
	ignored          map[string]int // change fields, message types and status values that become nothing
}

func (t *tally) ignore(what string) {
	if t.ignored == nil {
		t.ignored = map[string]int{}
	}
	t.ignored[what]++
}

// mapMessage maps one message of a change of number acc. base is its
// path ("entry[0].changes[1].value.messages[2]"), names the contacts
// of its value by wa_id. It answers false for a type that becomes
// nothing; an error is a *ingest.FieldError naming the path.
func mapMessage(m message, base string, acc chathook.Account, echo bool, names map[string]string, now time.Time) (chathook.Incoming, bool, error) {
	in := chathook.Incoming{
		Account:   chathook.Account{Phone: acc.Phone, FullName: acc.FullName, Email: acc.Email},
		MessageID: m.ID,
		UUID:      uuid.Must(uuid.NewV7()).String(),
		Direction: chathook.Received,
	}
	textPath := ""
	// An order, "contacts": [] or a location without its object has
	// neither text nor attachment, which the ingest API's rules refuse:
	// it becomes nothing, as the types below that are not messages.
	atts := attachmentsOf(m)
	switch {
	case m.Type == "text" && m.Text != nil:
		in.Text, textPath = m.Text.Body, "text.body"
	case len(atts) > 0:
		// The seed format skips them, as it does a QR account's media.
		in.SkipReason, in.Attachments = ingest.SkipAttachments, atts
		for _, c := range []struct {
			name string
			m    *metaMedia
		}{{"image", m.Image}, {"video", m.Video}, {"document", m.Document}} {
			if c.m != nil && c.m.Caption != "" {
				in.Text, textPath = c.m.Caption, c.name+".caption"
			}
		}
	// A tapped quick-reply button or list item is the customer's answer,
	// and their phone and the business's show it in the chat as text: a
	// CRM wants it like any reply, not as an attachment.
	case m.Type == "button" && m.Button != nil && m.Button.Text != "":
		in.Text, textPath = m.Button.Text, "button.text"
	case m.Type == "interactive" && m.Interactive != nil && m.Interactive.ButtonReply != nil && m.Interactive.ButtonReply.Title != "":
		in.Text, textPath = m.Interactive.ButtonReply.Title, "interactive.button_reply.title"
	case m.Type == "interactive" && m.Interactive != nil && m.Interactive.ListReply != nil && m.Interactive.ListReply.Title != "":
		in.Text, textPath = m.Interactive.ListReply.Title, "interactive.list_reply.title"
	default: // system, unsupported, unknown, request_welcome, ephemeral, ... (reactions are facts: see mapReaction)
		return in, false, nil
	}

	if m.ID == "" {
		return in, false, fieldErr(base+".id", "required: the message's id (wamid)")
	}
	who, whoPath := m.From, base+".from"
	if echo {
		in.Direction = chathook.Sent
		who, whoPath = m.To, base+".to"
	}
	if who == "" {
		return in, false, fieldErr(whoPath, "required: the customer's WhatsApp number")
	}
	phone := Phone(who)
	in.Chat = chathook.Chat{ExternalID: phone, Phone: phone}
	if !echo {
		// An echo names no contact: "" keeps the chat's stored name.
		in.Chat.FullName = names[phone]
	}
	ts, err := metaTime(m.Timestamp, now)
	if err != nil {
		return in, false, fieldErr(base+".timestamp", err.Error())
	}
	in.Timestamp = ts
	// Cleaned as a QR-linked account's text is: a NUL or a broken byte
	// is no reason to lose the message.
	in.Text = ingest.CleanText(in.Text)

	if err := ingest.Check(in, now); err != nil {
		return in, false, metaPath(err, base, whoPath, textPath)
	}
	return in, true, nil
}

// metaTime parses Meta's timestamp (see unixTime) and holds it to the
// ingest API's bounds: not before WhatsApp began, at most a day ahead.
func metaTime(raw json.RawMessage, now time.Time) (time.Time, error) {
	ts, err := unixTime(raw)
	switch {
	case err != nil:
		return ts, err
	case ts.Before(ingest.MinTimestamp):
		return ts, fmt.Errorf("%s is before 2009, when WhatsApp began", ingest.Cut(string(raw), 32))
	case ts.After(now.Add(ingest.MaxFuture)):
		return ts, fmt.Errorf("%s is more than a day in the future: Unix seconds are wanted, not milliseconds", ingest.Cut(string(raw), 32))
	}
	return ts, nil
}

// unixTime parses Meta's timestamp: Unix seconds, as a string or a
// number.
func unixTime(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return time.Time{}, errors.New("required: when it happened, in Unix seconds")
	}
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("%s is not a time in Unix seconds", ingest.Cut(string(raw), 32))
	}
	return time.Unix(sec, 0).UTC(), nil
}

// metaPath renames a field of ingest.Check's error to the place of Meta's
// payload the value came from.
func metaPath(err error, base, whoPath, textPath string) error {
	var fe *ingest.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := base + " (" + fe.Field + ")"
	switch fe.Field {
	case "message_id":
		field = base + ".id"
	case "timestamp":
		field = base + ".timestamp"
	case "chat.external_id", "chat.phone":
		field = whoPath
	case "text":
		if textPath != "" {
			field = base + "." + textPath
		}
	}
	return fieldErr(field, fe.Problem)
}

// contactNames returns the profile names of a value's contacts by their
// number as chathook spells it. A name is a person's own choice, shown
// as a chat's title: it is made fit to store rather than refused.
func contactNames(cs []contact) map[string]string {
	names := make(map[string]string, len(cs))
	for _, c := range cs {
		if c.WaID != "" {
			names[Phone(c.WaID)] = ingest.CleanName(c.Profile.Name)
		}
	}
	return names
}
