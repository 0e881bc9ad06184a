package cloudapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/google/uuid"
)

// status is one of value.statuses[]: how far a message the number sent
// got, as Meta documents it. Conversation and pricing are billing, not
// read.
type status struct {
	ID          string          `json:"id"` // the wamid of the message sent
	Status      string          `json:"status"`
	Timestamp   json.RawMessage `json:"timestamp"`
	RecipientID string          `json:"recipient_id"`
	// BizOpaqueCallbackData is what the send set: chathook's reply id
	// (see Graph.Send), or another system's data.
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data"`
	Errors                []statusError `json:"errors"`
}

// statusError is one of a failed status's errors[].
type statusError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// statuses are Meta's status values chathook maps; others ("deleted",
// and any of tomorrow) become nothing, counted in the POST's log line.
var statuses = map[string]chathook.MessageStatus{
	"sent":      chathook.StatusSent,
	"delivered": chathook.StatusDelivered,
	"read":      chathook.StatusRead,
	"failed":    chathook.StatusFailed,
}

// maxDetails is the longest error_data.details kept in a failed status's
// Error: Meta's are a sentence; a longer one is left to Meta's docs.
const maxDetails = 200

// mapStatus maps one status of path base. It answers false for a status
// value chathook does not map; an error is a *ingest.FieldError naming
// the path.
func mapStatus(raw json.RawMessage, base string, now time.Time) (chathook.Fact, bool, error) {
	var s status
	if err := decodeAt(raw, &s, base); err != nil {
		return chathook.Fact{}, false, err
	}
	if s.Status == "" {
		return chathook.Fact{}, false, fieldErr(base+".status", "required: sent, delivered, read or failed")
	}
	st, ok := statuses[s.Status]
	if !ok {
		return chathook.Fact{Status: chathook.MessageStatus(s.Status)}, false, nil
	}
	if err := checkID(base+".id", s.ID); err != nil {
		return chathook.Fact{}, false, err
	}
	chat, err := customer(base+".recipient_id", s.RecipientID)
	if err != nil {
		return chathook.Fact{}, false, err
	}
	at, err := metaTime(s.Timestamp, now)
	if err != nil {
		return chathook.Fact{}, false, fieldErr(base+".timestamp", err.Error())
	}
	f := chathook.Fact{Kind: chathook.FactStatus, Chat: chat, MessageID: s.ID, At: at, Status: st, ReplyID: replyID(s.BizOpaqueCallbackData)}
	if st == chathook.StatusFailed {
		f.Error = failure(s.Errors)
	}
	return f, true, nil
}

// failure is why a failed status failed, for a person: Meta's code and
// title ("131047: Re-engagement message"), and its details when short.
func failure(errs []statusError) string {
	if len(errs) == 0 {
		return "Meta reported it failed, without saying why"
	}
	e := errs[0]
	title := clean(e.Title, "")
	if title == "" {
		title = clean(e.Message, "")
	}
	s := strconv.Itoa(e.Code) + ": " + cmp.Or(title, "no title")
	if d := clean(e.ErrorData.Details, ""); d != "" && d != title && utf8.RuneCountInString(d) <= maxDetails {
		s += " (" + d + ")"
	}
	return s
}

// replyID is biz_opaque_callback_data when it is a reply id chathook
// set (a UUID as it spells one): another system's data on the number is
// no id of chathook's.
func replyID(data string) string {
	if u, err := uuid.Parse(data); err == nil && u.String() == data {
		return data
	}
	return ""
}

// mapReaction maps a message of type reaction of path base, of number
// acc, to a FactReaction: the customer's (or, as an echo, the number's
// own from the Business app) reaction to message_id, "" when taken back.
func mapReaction(m message, base string, acc chathook.Account, echo bool, names map[string]string, now time.Time) (chathook.Fact, error) {
	if err := checkID(base+".id", m.ID); err != nil {
		return chathook.Fact{}, err
	}
	who, whoPath := m.From, base+".from"
	if echo {
		who, whoPath = m.To, base+".to"
	}
	chat, err := customer(whoPath, who)
	if err != nil {
		return chathook.Fact{}, err
	}
	if m.Reaction == nil {
		return chathook.Fact{}, fieldErr(base+".reaction", "required: the message reacted to and the emoji")
	}
	if err := checkID(base+".reaction.message_id", m.Reaction.MessageID); err != nil {
		return chathook.Fact{}, err
	}
	at, err := metaTime(m.Timestamp, now)
	if err != nil {
		return chathook.Fact{}, fieldErr(base+".timestamp", err.Error())
	}
	sender := chathook.Person{FullName: names[chat], Phone: chat}
	if echo {
		sender = chathook.Person{FullName: acc.FullName, Phone: acc.Phone}
	}
	return chathook.Fact{
		Kind: chathook.FactReaction, Chat: chat, MessageID: m.Reaction.MessageID, ID: m.ID, At: at,
		// An emoji is one line: cleaned as a name is, never refused.
		Reaction: ingest.CleanName(m.Reaction.Emoji), Sender: sender, SenderKey: sender.Phone,
	}, nil
}

// customer is the chat of a customer's WhatsApp number as Meta writes it
// ("16505551234"): "+" and its digits, as messages name their chats.
func customer(path, waID string) (string, error) {
	if waID == "" {
		return "", fieldErr(path, "required: the customer's WhatsApp number")
	}
	phone := Phone(waID)
	if !ingest.IsPhone(phone) || !strings.HasPrefix(phone, "+") {
		return "", fieldErr(path, fmt.Sprintf("%q is not a WhatsApp number", ingest.Cut(waID, 32)))
	}
	return phone, nil
}

// checkID is the ingest API's rule for a message id: required, at most
// 256 bytes of UTF-8, no control characters.
func checkID(path, id string) error {
	switch {
	case id == "":
		return fieldErr(path, "required: the message's id (wamid)")
	case len(id) > 256:
		return fieldErr(path, fmt.Sprintf("too long: %d bytes, at most 256", len(id)))
	case !utf8.ValidString(id):
		return fieldErr(path, "not valid UTF-8")
	case strings.ContainsFunc(id, unicode.IsControl):
		return fieldErr(path, "must not contain control characters")
	}
	return nil
}
