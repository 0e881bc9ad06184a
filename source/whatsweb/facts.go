package whatsweb

import (
	"cmp"
	"context"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/ingest"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// What WhatsApp tells about messages after they were sent (SPEC 5.1 and
// 7): receipts of the account's messages, edits, deletes for everyone and
// reactions, recorded as chathook.Fact values by Store.RecordFacts. Only
// live events are facts: a history sync's edits, revokes and reactions
// are never recorded, as history is never delivered.

// receiptStatus is the status a receipt from the other side gives a
// message the account sent; "" for the receipts that are no status of
// one (the account's own devices reading, retries, server notices).
func receiptStatus(t types.ReceiptType) chathook.MessageStatus {
	switch t {
	case types.ReceiptTypeDelivered:
		return chathook.StatusDelivered
	case types.ReceiptTypeRead:
		return chathook.StatusRead
	case types.ReceiptTypePlayed:
		return chathook.StatusPlayed
	}
	return chathook.StatusNone
}

// receiptFacts maps a receipt to one FactStatus per message it is about.
// It answers nil for a receipt from the account's own devices (they tell
// of messages it received, or of its sent ones reaching its other
// devices) and for one that is no status. In a group, each participant's
// receipt comes on its own: the first one moves the status (delivered to,
// or read by, at least one participant; WhatsApp's ✓✓ waits for all).
func (m *mapper) receiptFacts(ctx context.Context, e *events.Receipt, now time.Time) []chathook.Fact {
	status := receiptStatus(e.Type)
	if e.IsFromMe || status == chathook.StatusNone {
		return nil
	}
	chat, former, ok := m.chatKey(ctx, e.Chat, e.SenderAlt)
	if !ok {
		return nil
	}
	at := timestamp(e.Timestamp, now)
	facts := make([]chathook.Fact, 0, len(e.MessageIDs))
	for _, id := range e.MessageIDs {
		if id == "" {
			continue
		}
		facts = append(facts, chathook.Fact{
			Kind: chathook.FactStatus, Chat: chat, ChatFormerID: former, MessageID: id, At: at, Status: status,
		})
	}
	return facts
}

// messageFact maps a live message event that is a fact about another
// message of its chat: an edit (ProtocolMessage MESSAGE_EDIT, which
// whatsmeow unwraps from its EditedMessage), a delete for everyone
// (REVOKE, the sender's or a group admin's) or a reaction. ok is false
// for any other event, and for one whose target or chat is unknown.
func (m *mapper) messageFact(ctx context.Context, evt *events.Message, now time.Time) (chathook.Fact, bool) {
	info := &evt.Info
	f := chathook.Fact{ID: info.ID, At: timestamp(info.Timestamp, now)}
	if pm := evt.Message.GetProtocolMessage(); pm != nil {
		f.MessageID = pm.GetKey().GetID()
		switch pm.GetType() {
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			text, ok := editedText(pm.GetEditedMessage())
			if !ok {
				return chathook.Fact{}, false
			}
			f.Kind, f.Text = chathook.FactEdited, text
		case waE2E.ProtocolMessage_REVOKE:
			f.Kind = chathook.FactDeleted
		default: // pins, keep-in-chat, history notices, ...
			return chathook.Fact{}, false
		}
	} else if r := evt.Message.GetReactionMessage(); r != nil {
		f.Kind, f.MessageID, f.Reaction = chathook.FactReaction, r.GetKey().GetID(), ingest.CleanText(r.GetText())
		if ms := r.GetSenderTimestampMS(); ms > 0 {
			f.At = timestamp(time.UnixMilli(ms), now)
		}
		f.Sender, f.SenderKey = m.reactor(ctx, info)
	} else {
		return chathook.Fact{}, false
	}
	if f.MessageID == "" {
		return chathook.Fact{}, false
	}

	chat := normalize(info.Chat)
	alt := info.SenderAlt
	if info.IsFromMe {
		alt = info.RecipientAlt
	}
	if chat.Server == types.BroadcastServer && chat != types.StatusBroadcastJID && !info.IsFromMe {
		chat, alt = normalize(info.Sender), info.SenderAlt // as incoming: the direct chat with its sender
	}
	var ok bool
	if f.Chat, f.ChatFormerID, ok = m.chatKey(ctx, chat, alt); !ok {
		return chathook.Fact{}, false
	}
	return f, true
}

// chatKey is how a chat's messages are stored: its external id as
// directChat and groupChat spell it (a number "+N", else a LID, or a
// group's JID) and, for a number, its LID as the id it may be stored
// under. ok is false for chats chathook keeps none of (status updates,
// newsletters, broadcast lists).
func (m *mapper) chatKey(ctx context.Context, chat, alt types.JID) (id, former string, ok bool) {
	chat = normalize(chat)
	switch chat.Server {
	case types.GroupServer:
		return chat.String(), "", true
	case types.DefaultUserServer, types.HiddenUserServer:
		p := m.resolve(ctx, chat, alt)
		phone := phoneOf(p.pn)
		if phone == "" {
			return cmp.Or(p.lid, chat).String(), "", true
		}
		if !p.lid.IsEmpty() {
			former = p.lid.String()
		}
		return phone, former, true
	}
	return "", "", false
}

// reactor is who sent a reaction, and the key that tells them apart: the
// account itself, or the contact (in a group, the participant) by the
// name the account's phone shows and their number when known; the key
// is their phone-number JID, else their LID.
func (m *mapper) reactor(ctx context.Context, info *types.MessageInfo) (chathook.Person, string) {
	if info.IsFromMe {
		return m.self(), normalize(m.dev.GetJID()).String()
	}
	p := m.resolve(ctx, normalize(info.Sender), info.SenderAlt)
	who := chathook.Person{FullName: ingest.CleanName(m.name(ctx, p, info.PushName)), Phone: phoneOf(p.pn)}
	key := p.pn
	if key.IsEmpty() {
		key = p.lid
	}
	if key.IsEmpty() {
		key = normalize(info.Sender)
	}
	return who, key.String()
}

// editedText is an edit's new text: the text, or a file's caption. ok is
// false for an edit with no text in it.
func editedText(msg *waE2E.Message) (string, bool) {
	if inner := msg.GetDocumentWithCaptionMessage().GetMessage(); inner != nil {
		msg = inner
	}
	var text string
	switch {
	case msg == nil:
		return "", false
	case msg.Conversation != nil:
		text = msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		text = msg.GetExtendedTextMessage().GetText()
	case msg.ImageMessage != nil:
		text = msg.GetImageMessage().GetCaption()
	case msg.VideoMessage != nil:
		text = msg.GetVideoMessage().GetCaption()
	case msg.DocumentMessage != nil:
		text = msg.GetDocumentMessage().GetCaption()
	default:
		return "", false
	}
	return ingest.CleanText(text), true
}

// receipt records a receipt's statuses; see record.
func (c *conn) receipt(ctx context.Context, e *events.Receipt) bool {
	return c.record(ctx, c.mapper().receiptFacts(ctx, e, c.m.now()))
}

// messageFact records a live message event that is a fact (see
// mapper.messageFact): isFact false leaves it to message; ok as record.
func (c *conn) messageFact(ctx context.Context, evt *events.Message) (isFact, ok bool) {
	f, isFact := c.mapper().messageFact(ctx, evt, c.m.now())
	if !isFact {
		return false, true
	}
	return true, c.record(ctx, []chathook.Fact{f})
}

// record records facts of the account and kicks the dispatcher when a
// delivery became due. As message, it answers false when the store
// fails, so that whatsmeow does not acknowledge the event and WhatsApp
// sends it again; a fact about a chat chathook does not have is dropped.
func (c *conn) record(ctx context.Context, facts []chathook.Fact) bool {
	if len(facts) == 0 {
		return true
	}
	a := c.account()
	res, queued, err := c.m.cfg.Store.RecordFacts(ctx, a.ID, c.m.now(), facts)
	if err != nil {
		c.m.log.Error("whatsapp facts not stored: WhatsApp will send them again", "account_id", a.ID,
			"kind", facts[0].Kind, "message_id", safeID(facts[0].MessageID), "err", err)
		return false
	}
	for i, r := range res {
		if i < len(facts) {
			c.m.log.Debug("whatsapp fact", "account_id", a.ID, "kind", facts[i].Kind,
				"message_id", safeID(facts[i].MessageID), "result", r)
		}
	}
	if queued && c.m.cfg.Queued != nil {
		c.m.cfg.Queued()
	}
	return true
}
