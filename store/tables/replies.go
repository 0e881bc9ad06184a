package tables

import (
	"cmp"

	"github.com/chathook/chathook"
)

// PageMessageColumns are read by PageMessage, from PageMessages: a
// message with the state of its reply, for the chat pages, how many
// attachments it has (see Counted), its status and deletion, and how
// many edits and reactions it has (see WithEdits, WithReactions).
const PageMessageColumns = MessageColumns + `, COALESCE(r.state, ''), COALESCE(r.error, ''), m.attachments,
	m.status, m.status_at, m.deleted_at, m.edited, m.reacted`

// PageMessages is the FROM of PageMessageColumns: messages aliased m,
// each with its reply, if it is one.
const PageMessages = `messages m LEFT JOIN replies r ON r.id = m.uuid`

// PageMessage reads a row of PageMessageColumns.
func PageMessage(row Scanner) (chathook.Message, error) {
	var m chathook.Message
	var sent, received, statusAt, deletedAt int64
	var attachments, edited, reacted int
	err := row.Scan(&m.ID, &m.UUID, &m.ChatID, &m.MessageID, &m.Direction, &sent, &received,
		&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat, &m.SkipReason,
		&m.Reply, &m.ReplyError, &attachments, &m.Status, &statusAt, &deletedAt, &edited, &reacted)
	m.Timestamp, m.ReceivedAt = Time(sent), Time(received)
	m.StatusAt, m.DeletedAt, m.Deleted = OptionalTime(statusAt), OptionalTime(deletedAt), deletedAt != 0
	Counted(&m, attachments)
	// As Counted: placeholders, which FillEdits and FillReactions replace.
	if edited > 0 {
		m.Edits = make([]chathook.Edit, edited)
	}
	if reacted > 0 {
		m.Reactions = make([]chathook.Reaction, reacted)
	}
	return m, err
}

// ReplyColumns are read by Reply, from replies aliased r.
const ReplyColumns = `r.id, r.workspace_id, r.chat_id, r.account_id, r.wa_id, r.text, r.sent_by_name, r.sent_by_email,
	r.state, r.error, r.attempts, r.created_at, r.sent_at`

// Reply reads a row of ReplyColumns, and then into extra any columns the
// query selects after them.
func Reply(row Scanner, extra ...any) (chathook.Reply, error) {
	var r chathook.Reply
	var created, sent int64
	err := row.Scan(append([]any{&r.ID, &r.WorkspaceID, &r.ChatID, &r.AccountID, &r.WAID, &r.Text, &r.SentBy.FullName,
		&r.SentBy.Email, &r.State, &r.Error, &r.Attempts, &created, &sent}, extra...)...)
	r.CreatedAt, r.SentAt = Time(created), OptionalTime(sent)
	return r, err
}

// OutgoingColumns are read by Outgoing: a reply (r) with whether its
// latest attempt is still open, its account (a) and its chat (c).
const OutgoingColumns = ReplyColumns + `, r.attempt_open, a.access_token, a.id, a.workspace_id, a.phone, a.full_name,
	a.email, a.kind, a.state, a.jid, a.phone_number_id, a.verify_token, a.last_message_at, a.created_at,
	a.state_until, ` + ChatColumnsC

// ChatColumnsC are ChatColumns of chats aliased c.
const ChatColumnsC = `c.id, c.workspace_id, c.account_id, c.external_id, c.full_name, c.is_group, c.phone,
	c.responsible_name, c.responsible_email, c.created_at`

// Outgoing reads a row of OutgoingColumns.
func Outgoing(row Scanner) (chathook.Outgoing, error) {
	var o chathook.Outgoing
	a, c := &o.Account, &o.Chat
	var last, created, until, chatCreated int64
	var err error
	o.Reply, err = Reply(row, &o.InDoubt, &o.AccessToken,
		&a.ID, &a.WorkspaceID, &a.Phone, &a.FullName, &a.Email, &a.Kind, &a.State, &a.JID, &a.PhoneNumberID, &a.VerifyToken, &last, &created,
		&until, &c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone, &c.ResponsibleName, &c.ResponsibleEmail, &chatCreated)
	a.LastMessageAt, a.CreatedAt, a.StateUntil, c.CreatedAt = OptionalTime(last), OptionalTime(created), OptionalTime(until), Time(chatCreated)
	return o, err
}

// ReplyMessage is what a reply's message in the timeline holds besides
// the reply's own fields: its message_id (the reply's WAID, or its ID
// until Meta gives a wamid), and its sender (the teammate, else the
// account) and recipient (the chat), as an ingested sent message's.
func ReplyMessage(r chathook.Reply, acc chathook.Account, chat chathook.Chat) (messageID string, sender, recipient chathook.Person) {
	in := chathook.Incoming{Direction: chathook.Sent, SentByName: r.SentBy.FullName}
	sender, recipient = in.Participants(acc, chat)
	return cmp.Or(r.WAID, r.ID), sender, recipient
}
