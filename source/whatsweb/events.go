package whatsweb

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"github.com/google/uuid"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// mapper turns one linked device's messages into chathook.Incoming
// values, as SPEC 5.1's tables say. Names and phone numbers come from
// whatsmeow's own stores (contacts, LID map) of the device, so dev must be
// paired (its ID set).
type mapper struct {
	dev *wastore.Device
	acc chathook.Account // the account as chathook stores it: its Email, and its FullName while the device's push name is unknown
	// group returns a group's subject, "" when it cannot be known now.
	group func(ctx context.Context, jid types.JID) string
	log   *slog.Logger
}

// peer is one WhatsApp user by phone number, by LID, or both.
type peer struct {
	pn, lid types.JID
}

// incoming maps a message event. It answers false for what is not a
// message (reactions, edits, deletions, which live are facts: see
// messageFact; polls, protocol and status messages, empty text,
// newsletters) and for one that cannot be stored
// (logged, never fatal). alt is another address of the chat known to the
// caller (a history conversation's PnJID or LidJID), or empty.
func (m *mapper) incoming(ctx context.Context, evt *events.Message, alt types.JID, now time.Time, history bool) (chathook.Incoming, bool) {
	info := &evt.Info
	// An edit carries the new text under the edited message's id; a
	// revoke, a pin, a keep-in-chat are protocol messages. None is a new
	// message.
	if evt.IsEdit || info.Edit != types.EditAttributeEmpty || evt.Message.GetProtocolMessage() != nil {
		return chathook.Incoming{}, false
	}
	text, atts, ok := content(evt.Message, info)
	text = ingest.CleanText(text)
	if !ok || len(atts) == 0 && ingest.IsBlank(text) { // nothing to show, as a zero-width space alone
		return chathook.Incoming{}, false
	}
	if history {
		historyMedia(atts)
	}

	self := m.self()
	in := chathook.Incoming{
		Account:     chathook.Account{Phone: self.Phone, FullName: ingest.CleanName(m.dev.PushName), Email: m.acc.Email},
		MessageID:   info.ID,
		UUID:        uuid.Must(uuid.NewV7()).String(),
		Direction:   chathook.Received,
		Timestamp:   timestamp(info.Timestamp, now),
		Text:        text,
		Attachments: atts,
		History:     history,
	}
	if info.IsFromMe {
		in.Direction = chathook.Sent
	}
	if len(atts) > 0 {
		in.SkipReason = ingest.SkipAttachments
	}

	chat := normalize(info.Chat)
	switch {
	case chat.Server == types.GroupServer:
		m.groupChat(ctx, evt, &in, self)
	case chat.Server == types.DefaultUserServer || chat.Server == types.HiddenUserServer:
		if alt.IsEmpty() {
			alt = info.SenderAlt
			if info.IsFromMe {
				alt = info.RecipientAlt
			}
		}
		m.directChat(ctx, chat, alt, info, &in, self)
	case chat.Server == types.BroadcastServer && chat != types.StatusBroadcastJID && !info.IsFromMe:
		// A broadcast list's message shows in the direct chat with its
		// sender; one the account sent to a list has no chat of its own.
		m.directChat(ctx, normalize(info.Sender), info.SenderAlt, info, &in, self)
	default: // status updates, newsletters, bots
		return chathook.Incoming{}, false
	}

	if err := ingest.Check(in, now); err != nil {
		m.log.Warn("whatsapp message not stored: it fails validation",
			"account_id", m.acc.ID, "message_id", safeID(info.ID), "chat", in.Chat.ExternalID, "err", err)
		return chathook.Incoming{}, false
	}
	return in, true
}

// self is the account as a sender or recipient.
func (m *mapper) self() chathook.Person {
	return chathook.Person{
		FullName: ingest.CleanName(cmp.Or(m.dev.PushName, m.acc.FullName)),
		Phone:    phoneOf(m.dev.GetJID()),
	}
}

// directChat fills in's chat and participants for a one-to-one chat.
func (m *mapper) directChat(ctx context.Context, chat, alt types.JID, info *types.MessageInfo, in *chathook.Incoming, self chathook.Person) {
	p := m.resolve(ctx, chat, alt)
	phone := phoneOf(p.pn)
	c := chathook.Chat{Phone: phone, ExternalID: phone}
	if phone == "" {
		// No number known (yet): the chat is its LID. When the number
		// shows up, ChatFormerID below moves the same chat to it.
		c.ExternalID = cmp.Or(p.lid, chat).String()
	} else if !p.lid.IsEmpty() {
		in.ChatFormerID = p.lid.String()
	}
	pushName := ""
	if !info.IsFromMe {
		pushName = info.PushName // the contact's own, fresh with this message
	}
	c.FullName = ingest.CleanName(m.name(ctx, p, pushName))
	in.Chat = c

	contact := chathook.Person{FullName: c.FullName, Phone: phone}
	if info.IsFromMe {
		in.Sender, in.Recipient = &self, &contact
	} else {
		in.Sender, in.Recipient = &contact, &self
	}
}

// groupChat fills in's chat and participants for a group: its subject
// names the chat and is the recipient; phones are empty, as the wire
// format wants in groups.
func (m *mapper) groupChat(ctx context.Context, evt *events.Message, in *chathook.Incoming, self chathook.Person) {
	info := &evt.Info
	group := normalize(info.Chat)
	subject := ingest.CleanName(m.group(ctx, group))
	in.Chat = chathook.Chat{ExternalID: group.String(), FullName: subject, IsGroup: true}

	sender := chathook.Person{FullName: self.FullName}
	if !info.IsFromMe {
		p := m.resolve(ctx, normalize(info.Sender), info.SenderAlt)
		sender.FullName = ingest.CleanName(m.name(ctx, p, info.PushName))
	}
	in.Sender = &sender
	if subject != "" { // else the recipient is the chat as stored: its subject from before
		in.Recipient = &chathook.Person{FullName: subject}
	}
}

// resolve returns a user's phone-number and LID addresses: from jid, from
// alt (the other address the event carried) and through the device's
// LID map for the one still missing.
func (m *mapper) resolve(ctx context.Context, jid, alt types.JID) peer {
	var p peer
	for _, j := range []types.JID{normalize(jid), normalize(alt)} {
		switch {
		case j.Server == types.DefaultUserServer && p.pn.IsEmpty():
			p.pn = j
		case j.Server == types.HiddenUserServer && p.lid.IsEmpty():
			p.lid = j
		}
	}
	if m.dev.LIDs == nil {
		return p
	}
	var err error
	switch {
	case p.pn.IsEmpty() && !p.lid.IsEmpty():
		p.pn, err = m.dev.LIDs.GetPNForLID(ctx, p.lid)
		p.pn = normalize(p.pn)
	case p.lid.IsEmpty() && !p.pn.IsEmpty():
		p.lid, err = m.dev.LIDs.GetLIDForPN(ctx, p.pn)
		p.lid = normalize(p.lid)
	}
	if err != nil {
		m.log.Warn("whatsapp LID map lookup failed", "account_id", m.acc.ID, "err", err)
	}
	return p
}

// name is how the account's phone shows a user: the saved contact name,
// else their push name (pushName is the one a message just carried), else
// their business name, else the number (or, for a LID with no number, the
// redacted number WhatsApp gives for group members).
func (m *mapper) name(ctx context.Context, p peer, pushName string) string {
	var saved, push, business, redacted string
	if m.dev.Contacts != nil {
		for _, j := range []types.JID{p.pn, p.lid} {
			if j.IsEmpty() {
				continue
			}
			c, err := m.dev.Contacts.GetContact(ctx, j)
			if err != nil {
				m.log.Warn("whatsapp contact lookup failed", "account_id", m.acc.ID, "err", err)
				continue
			}
			saved = cmp.Or(saved, c.FullName, c.FirstName)
			push = cmp.Or(push, c.PushName)
			business = cmp.Or(business, c.BusinessName)
			redacted = cmp.Or(redacted, c.RedactedPhone)
		}
	}
	return cmp.Or(saved, push, pushName, business, phoneOf(p.pn), redacted)
}

// normalize drops a JID's device and spells hosted (business API)
// addresses as the user addresses they stand for.
func normalize(j types.JID) types.JID {
	j = j.ToNonAD()
	switch j.Server {
	case types.HostedServer, types.LegacyUserServer:
		j.Server = types.DefaultUserServer
	case types.HostedLIDServer:
		j.Server = types.HiddenUserServer
	}
	return j
}

// phoneOf returns a phone-number JID's number as "+N", or "" when j is
// not one (a LID, a group, an odd server-side user such as "0").
func phoneOf(j types.JID) string {
	if j.Server != types.DefaultUserServer && j.Server != types.HostedServer {
		return ""
	}
	if p := "+" + j.User; isPhone(p) {
		return p
	}
	return ""
}

// timestamp is when a message was sent, as the ingest API bounds it: a
// time WhatsApp gives out of those bounds (a phone's broken clock) is
// replaced by when chathook got the message, not a reason to lose it.
func timestamp(t, now time.Time) time.Time {
	if t.Before(ingest.MinTimestamp) || t.After(now.Add(ingest.MaxFuture)) {
		return now.UTC()
	}
	return t.UTC()
}
