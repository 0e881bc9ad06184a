// Package reply sends messages to chats from chathook, through each
// chat's own account: a teammate's answer from the chat page, or a
// program's through POST /api/v1/chats/{chat_id}/messages.
//
// Guarantees:
//   - A reply is committed before anything is sent (Queue), with its
//     message in the chat's timeline; a crash after that loses nothing.
//   - One instance at a time attempts a reply (a lease in the database),
//     and a transient failure is tried again with backoff until MaxWait
//     has passed since it was queued; then it fails with the reason.
//   - A QR-linked account sends every attempt of a reply under one
//     WhatsApp message id, chosen when it is queued: WhatsApp and the
//     phones take a repeat as the same message, so a retry after a crash
//     is never a second message. Meta's Graph API has no such id: a Cloud
//     API reply whose attempt was cut short by a crash is never sent
//     again.
//   - A reply given up when an attempt of it may have reached WhatsApp
//     (its end was never recorded, or WhatsApp did not answer in time) is
//     uncertain, its reason beginning "may have been sent: ", never
//     failed: a teammate who reads "failed" sends it again. While it is
//     queued, that reason is how a later attempt, on any instance, knows.
//   - Only a person or a group is written to, never a Status, broadcast
//     list or newsletter, whatever id a chat holds; a Cloud API number
//     writes only to a phone number.
//   - Each account makes at most one attempt every minute/SendRate, per
//     instance, evenly; the replies whose turn has not come wait in the
//     store, unattempted and not in doubt, oldest first. Pacing counts
//     toward MaxWait: a reply not sent within it fails.
//   - A sent reply is a message like any other: delivered to the outbound
//     webhook with direction "sent" and the teammate as sender, in the
//     chat's order; WhatsApp's echo of it is a duplicate of it.
package reply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
	"go.mau.fi/whatsmeow/types"
)

// CannotSendError is a reply refused before it is queued: the chat's
// account has no way to send it (a 409 in the API).
type CannotSendError struct{ Reason string }

func (e *CannotSendError) Error() string { return e.Reason }

// Check validates a reply's text and teammate; the error is an
// *ingest.FieldError naming the field as the API does.
func Check(text string, by chathook.Teammate) error {
	if err := ingest.CheckText("text", text); err != nil {
		return err
	}
	if err := ingest.CheckName("sent_by.full_name", by.FullName); err != nil {
		return err
	}
	return ingest.CheckEmail("sent_by.email", by.Email)
}

// Queue validates a reply to a chat of the workspace and commits it,
// queued: see store.Replies.QueueReply. Errors: an *ingest.FieldError,
// chathook.ErrNotFound for a chat not the workspace's, a
// *CannotSendError for a chat whose account cannot send or that is no
// person or group.
func Queue(ctx context.Context, st store.Store, workspaceID string, chatID int64, text string, by chathook.Teammate, now time.Time) (chathook.Reply, error) {
	if err := Check(text, by); err != nil {
		return chathook.Reply{}, err
	}
	chat, err := st.Chat(ctx, workspaceID, chatID)
	if err != nil {
		return chathook.Reply{}, err
	}
	acc, err := st.Account(ctx, workspaceID, chat.AccountID)
	if err != nil {
		return chathook.Reply{}, err
	}
	r := chathook.Reply{
		ID: uuid.Must(uuid.NewV7()).String(), WorkspaceID: workspaceID, ChatID: chatID, AccountID: acc.ID,
		Text: text, SentBy: by,
	}
	if reason := Refusal(acc, chat); reason != "" {
		return chathook.Reply{}, &CannotSendError{reason}
	}
	if acc.Kind == chathook.KindWeb {
		r.WAID = NewWhatsAppID()
	}
	return st.QueueReply(ctx, r, now)
}

// Refusal says why acc, the account of chat, cannot write to chat, or
// "" when it can: an account the ingest API made sends nothing, a Cloud
// API number writes to no group, and only a person or a group is ever
// written to. It does not look at the account's connection: a reply to
// an account offline or banned waits in the queue. Queue refuses exactly
// what Refusal refuses, so a page that shows no reply box where Refusal
// says why never offers a reply Queue would refuse.
func Refusal(acc chathook.Account, chat chathook.Chat) string {
	switch acc.Kind {
	case chathook.KindWeb:
	case chathook.KindCloudAPI:
		if chat.IsGroup {
			return "a Cloud API number cannot write to a group: only accounts connected by QR code can"
		}
	default:
		return fmt.Sprintf("the account %s of this chat is not connected to chathook: its messages come from the ingest API. "+
			"Connect it by QR code, or register it as a Cloud API number, to reply from chathook", acc.Phone)
	}
	return recipientOf(acc.Kind, chat.ExternalID)
}

// recipient says why a QR-linked account must not write to a chat whose
// WhatsApp id is external, or "": only a person (a phone, a user or a
// LID) or a group may be written to. A chat the ingest API made may hold
// any id, and sending to status@broadcast would post a Status for every
// contact to see; a broadcast list or a newsletter reaches many.
func recipient(external string) string {
	if ingest.IsPhone(external) && strings.HasPrefix(external, "+") {
		return ""
	}
	jid, err := types.ParseJID(external)
	if err == nil && jid.User != "" {
		switch jid.Server {
		case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer:
			return ""
		}
	}
	return fmt.Sprintf("chathook sends only to a person or a group: this chat's WhatsApp id %q is neither "+
		"(a status, a broadcast list or a newsletter is never written to from chathook)", external)
}

// cloudRecipient says why a Cloud API number must not write to a chat
// whose id is external, or "": Meta sends to a phone number only, and a
// chat the ingest API made may hold any id (a broadcast list's, a
// newsletter's), whose digits are no one's number.
func cloudRecipient(external string) string {
	if ingest.IsPhone(external) {
		return ""
	}
	return fmt.Sprintf("a Cloud API number sends only to a phone number: this chat's id %q is none", external)
}

// recipientOf says why an account of kind must not write to a chat
// whose id is external, or "" (also for a kind that sends nothing).
func recipientOf(kind chathook.AccountKind, external string) string {
	switch kind {
	case chathook.KindWeb:
		return recipient(external)
	case chathook.KindCloudAPI:
		return cloudRecipient(external)
	}
	return ""
}

// NewWhatsAppID returns a message id as WhatsApp Web's clients make them
// ("3EB0" and 18 hex digits), random, so that it is unique to the reply.
func NewWhatsAppID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}
