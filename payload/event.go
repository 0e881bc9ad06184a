package payload

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
)

// envelope is SPEC 7's: one event per POST.
type envelope struct {
	Type        string `json:"type"`
	EventID     string `json:"event_id"`
	Timestamp   string `json:"timestamp"`
	WorkspaceID string `json:"workspace_id"`
	Data        any    `json:"data"`
}

// EventTime formats t as the event format's timestamps are: RFC 3339, UTC.
func EventTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// eventMessage is a message in the event format: SPEC 4.1's fields with
// RFC 3339 timestamps, its permalink id and its attachments.
type eventMessage struct {
	Direction   string            `json:"direction"`
	Timestamp   string            `json:"timestamp"`
	MessageID   string            `json:"message_id"`
	MessageUUID string            `json:"message_uuid"`
	Sender      person            `json:"sender"`
	Recipient   person            `json:"recipient"`
	Text        string       `json:"text"`
	Attachments []attachment `json:"attachments"`
}

type messageData struct {
	WhatsAppAccount account      `json:"whatsapp_account"`
	Chat            chat         `json:"chat"`
	Message         eventMessage `json:"message"`
}

type chatData struct {
	WhatsAppAccount account `json:"whatsapp_account"`
	Chat            chat    `json:"chat"`
}

// Event renders the envelope of one event of a chat: a message:*:new
// (of m) or a chat:*created one (m is the message that created it).
// webhook-id is the event id, the same for every endpoint it goes to.
// Links to attachments are made at now, when the event is sent, so each
// attempt carries links valid for media.LinkTTL.
func Event(baseURL, typ, eventID string, at, now time.Time, acc chathook.Account, c chathook.Chat, m chathook.Message) []byte {
	var data any
	switch typ {
	case event.ChatCreated, event.ChatReceivedNew, event.ChatSentNew:
		data = chatData{WhatsAppAccount: wireAccount(acc), Chat: wireChat(baseURL, c, true)}
	default:
		data = messageData{WhatsAppAccount: wireAccount(acc), Chat: wireChat(baseURL, c, m.IsNewChat), Message: newEventMessage(baseURL, m, now)}
	}
	return Envelope(typ, eventID, at, acc.WorkspaceID, data)
}

func newEventMessage(baseURL string, m chathook.Message, now time.Time) eventMessage {
	return eventMessage{Direction: string(m.Direction), Timestamp: EventTime(m.Timestamp), MessageID: m.MessageID, MessageUUID: m.UUID,
		Sender: person(m.Sender), Recipient: person(m.Recipient), Text: m.Text, Attachments: attachments(baseURL, m.Attachments, now)}
}

// EventMessage renders m as the event format's data.message, with links
// to its attachments made at now: GET /api/v1/messages/{message_uuid}.
func EventMessage(baseURL string, m chathook.Message, now time.Time) []byte {
	return encode(newEventMessage(baseURL, m, now))
}

// Envelope renders an event whose data is already made.
func Envelope(typ, eventID string, at time.Time, workspaceID string, data any) []byte {
	return encode(envelope{Type: typ, EventID: eventID, Timestamp: EventTime(at), WorkspaceID: workspaceID, Data: data})
}

// Fixed renders an event whose data was fixed when it was queued (data,
// a JSON object): an account's (c nil), or a message's status, whose
// chat c goes first in its data, as the chat is now.
func Fixed(baseURL, typ, eventID string, at time.Time, workspaceID string, c *chathook.Chat, data []byte) []byte {
	if c != nil {
		head := encode(struct {
			Chat chat `json:"chat"`
		}{wireChat(baseURL, *c, false)})
		joined := append(head[:len(head)-1:len(head)-1], ',')
		data = append(joined, bytes.TrimPrefix(bytes.TrimSpace(data), []byte("{"))...)
	}
	return Envelope(typ, eventID, at, workspaceID, json.RawMessage(data))
}
