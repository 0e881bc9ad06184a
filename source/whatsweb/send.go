package whatsweb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
)

// sendTimeout bounds one attempt: far inside a reply's lease, so that no
// other instance attempts it while this one still may.
const sendTimeout = 30 * time.Second

// Online returns the accounts this Manager has connected to WhatsApp now:
// the ones whose replies it can send.
func (m *Manager) Online() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []int64
	for id, c := range m.conns {
		if c.isOnline() {
			ids = append(ids, id)
		}
	}
	return ids
}

// Send sends a reply through its account's connection under the reply's
// own WhatsApp message id (o.WAID), so that a second attempt is the same
// message to WhatsApp and the phones. It returns when WhatsApp's server
// took it, and when. Errors are *chathook.SendError.
func (m *Manager) Send(ctx context.Context, o chathook.Outgoing) (time.Time, error) {
	c := m.online(o.AccountID)
	if c == nil {
		return time.Time{}, &chathook.SendError{Retry: true, Reason: "the account is not connected to WhatsApp right now"}
	}
	to, err := chatJID(o.Chat)
	if err != nil {
		return time.Time{}, &chathook.SendError{Reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	c.mu.Lock()
	cli := c.cli
	c.mu.Unlock()
	at, err := cli.SendText(ctx, to, o.WAID, o.Text)
	if err != nil {
		return time.Time{}, sendError(err)
	}
	if at.IsZero() {
		at = m.now()
	}
	return at.UTC(), nil
}

func (c *conn) isOnline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online && !c.closed && c.cli != nil
}

// chatJID is whom a chat's messages go to: its external id is a phone
// ("+972…") for a direct chat whose number is known, else a JID (a LID,
// a group). Only a person or a group is written to: a chat the ingest
// API made may hold any id, and status@broadcast would post a Status,
// a broadcast list or a newsletter reach many (reply.Queue refuses them
// first; this is the second check).
func chatJID(chat chathook.Chat) (types.JID, error) {
	if p, ok := strings.CutPrefix(chat.ExternalID, "+"); ok {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return types.EmptyJID, fmt.Errorf("chathook cannot tell whom to send to: the chat's WhatsApp id %q is not a phone number", chat.ExternalID)
		}
		return types.NewJID(p, types.DefaultUserServer), nil
	}
	jid, err := types.ParseJID(chat.ExternalID)
	if err != nil || jid.IsEmpty() || jid.User == "" {
		return types.EmptyJID, fmt.Errorf("chathook cannot tell whom to send to: the chat's WhatsApp id %q is not an address", chat.ExternalID)
	}
	switch jid.Server {
	case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer:
		return jid.ToNonAD(), nil
	}
	return types.EmptyJID, fmt.Errorf("chathook sends only to a person or a group: the chat's WhatsApp id %q is neither", chat.ExternalID)
}

// sendError words whatsmeow's errors for a person, and tells which are
// worth another attempt: a refusal by WhatsApp's server is final; a
// dropped connection or a timeout is not, and resending under the same
// id is safe.
//
// It also tells which may have reached WhatsApp (MaybeSent): those that
// SendMessage returns after the message left, while it waits for the
// server's answer: its own timeout, the context's end, or the connection
// dropping then ("message send"). Everything else (not connected, an
// info query's timeout or disconnection while devices and keys are
// fetched, encryption) ends the attempt before the message leaves. A
// context's end while keys are fetched cannot be told from one after,
// so it counts as maybe sent.
func sendError(err error) *chathook.SendError {
	switch {
	case errors.Is(err, whatsmeow.ErrMessageTimedOut), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &chathook.SendError{Retry: true, MaybeSent: true, Reason: "WhatsApp did not answer: " + err.Error()}
	case errors.Is(err, &whatsmeow.DisconnectedError{Action: "message send"}),
		errors.Is(err, &whatsmeow.DisconnectedError{Action: "message send (retry)"}):
		return &chathook.SendError{Retry: true, MaybeSent: true, Reason: "the connection to WhatsApp dropped while it was taking the message"}
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return &chathook.SendError{Reason: "WhatsApp refused it: the account is no longer a member of this group"}
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return &chathook.SendError{Reason: "WhatsApp refused it: the group no longer exists"}
	case errors.Is(err, whatsmeow.ErrServerReturnedError), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrBroadcastListUnsupported):
		return &chathook.SendError{Reason: "WhatsApp refused it: " + err.Error()}
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrIQDisconnected):
		return &chathook.SendError{Retry: true, Reason: "the account is not connected to WhatsApp right now"}
	case errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return &chathook.SendError{Retry: true, Reason: "the account is not logged in to WhatsApp"}
	}
	return &chathook.SendError{Retry: true, Reason: "WhatsApp did not answer: " + err.Error()}
}
