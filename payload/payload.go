// Package payload is chathook's wire format: the JSON bodies POSTed to an
// outbound webhook and their Standard Webhooks signature.
//
// Field order, key names and the timestamp layout follow the product we
// re-create byte for byte; golden files under testdata/ pin them.
package payload

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/chathook/chathook"
)

// TimeLayout is the wire form of every timestamp, always in UTC ("+0000").
const TimeLayout = "2006-01-02T15:04:05-0700"

// Time formats t for the wire.
func Time(t time.Time) string { return t.UTC().Format(TimeLayout) }

type account struct {
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
}

type chat struct {
	FullName         string `json:"full_name"`
	ResponsibleName  string `json:"responsible_name"`
	ResponsibleEmail string `json:"responsible_email"`
	ChatURL          string `json:"chat_url"`
	ChatID           string `json:"chat_id"`
	IsNewChat        bool   `json:"is_new_chat"`
	IsGroup          bool   `json:"is_group"`
	Phone            string `json:"phone"`
}

type person struct {
	FullName string `json:"full_name"`
	Phone    string `json:"phone"`
}

type message struct {
	Direction string `json:"direction"`
	Timestamp string `json:"timestamp"`
	MessageID string `json:"message_id"`
	Sender    person `json:"sender"`
	Recipient person `json:"recipient"`
	Text      string `json:"text"`
}

type single struct {
	WhatsAppAccount account `json:"whatsapp_account"`
	Chat            chat    `json:"chat"`
	Message         message `json:"message"`
}

// ChatURL is where a chat opens in chathook's UI.
func ChatURL(baseURL string, chatID int64) string {
	return baseURL + "/chat/" + strconv.FormatInt(chatID, 10) + "/messages/"
}

// Single renders the body for one message without aggregation (SPEC 4.1).
// isNewChat is the message's own flag: true when it created the chat.
func Single(baseURL string, acc chathook.Account, c chathook.Chat, m chathook.Message) []byte {
	return encode(single{
		WhatsAppAccount: wireAccount(acc),
		Chat:            wireChat(baseURL, c, m.IsNewChat),
		Message:         wireMessage(m),
	})
}

// encode writes v as compact JSON without HTML escaping: receivers get
// "<" and "&" as they were typed, like the original product sends them.
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, bools and structs of them: encoding cannot fail.
		panic("payload: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
