package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

const messageColumns = tables.MessageColumns

func scanMessage(row pgx.Row) (chathook.Message, error) {
	m, err := tables.Message(row)
	return m, noRows(err, chathook.ErrNotFound)
}

// collectMessages reads every row of a query of messageColumns.
func collectMessages(rows pgx.Rows, err error) ([]chathook.Message, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Message, error) { return scanMessage(row) })
}

// collectPageMessages reads every row of a query of
// tables.PageMessageColumns.
func collectPageMessages(rows pgx.Rows, err error) ([]chathook.Message, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Message, error) { return tables.PageMessage(row) })
}

// Chats lists a workspace's chats by id, newest first, each with its
// latest message in timeline order (one backward seek on
// messages_timeline per chat).
func (s *Store) Chats(ctx context.Context, workspaceID string, q store.ChatQuery) ([]chathook.ChatSummary, error) {
	// The contract's scaffold: the chat list by id, until the inbox lands.
	before, limit := int64(1<<63-1), q.Limit
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.workspace_id, c.account_id, c.external_id, c.full_name, c.is_group,
			c.phone, c.responsible_name, c.responsible_email, c.created_at, a.phone,
			COALESCE(m.id, 0), COALESCE(m.uuid, ''), COALESCE(m.chat_id, 0), COALESCE(m.message_id, ''),
			COALESCE(m.direction, ''), COALESCE(m.sent_at, 0), COALESCE(m.received_at, 0),
			COALESCE(m.sender_name, ''), COALESCE(m.sender_phone, ''), COALESCE(m.recipient_name, ''),
			COALESCE(m.recipient_phone, ''), COALESCE(m.text, ''), COALESCE(m.is_new_chat, false), COALESCE(m.skip_reason, ''),
			COALESCE(m.attachments, 0), COALESCE(m.deleted_at, 0)
		FROM chats c JOIN accounts a ON a.id = c.account_id
		LEFT JOIN LATERAL (SELECT * FROM messages WHERE chat_id = c.id ORDER BY sent_at DESC, id DESC LIMIT 1) m ON true
		WHERE c.workspace_id = $1 AND c.id < $2 ORDER BY c.id DESC LIMIT $3`, workspaceID, before, limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.ChatSummary, error) {
		var cs chathook.ChatSummary
		var created, sent, received int64
		var attachments int
		var deleted int64
		c, m := &cs.Chat, &cs.Last
		err := row.Scan(&c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone,
			&c.ResponsibleName, &c.ResponsibleEmail, &created, &cs.AccountPhone,
			&m.ID, &m.UUID, &m.ChatID, &m.MessageID, &m.Direction, &sent, &received,
			&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat,
			&m.SkipReason, &attachments, &deleted)
		c.CreatedAt = fromMS(created)
		if m.ID != 0 {
			m.Timestamp, m.ReceivedAt = fromMS(sent), fromMS(received)
		}
		if deleted != 0 {
			m.Deleted, m.DeletedAt = true, fromMS(deleted)
		}
		tables.Counted(m, attachments)
		return cs, err
	})
	if err != nil {
		return nil, err
	}
	last := make([]*chathook.Message, len(out))
	for i := range out {
		last[i] = &out[i].Last
	}
	if err := attach(ctx, s.pool, last); err != nil {
		return nil, fmt.Errorf("chats: attachments: %w", err)
	}
	return out, nil
}

// Chat returns one chat of a workspace.
func (s *Store) Chat(ctx context.Context, workspaceID string, chatID int64) (chathook.Chat, error) {
	return scanChat(s.pool.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = $1 AND workspace_id = $2`,
		chatID, workspaceID))
}

// Messages reads one page of a chat's timeline through messages_timeline.
func (s *Store) Messages(ctx context.Context, workspaceID string, chatID int64, p store.Page) ([]chathook.Message, error) {
	q := `SELECT ` + tables.PageMessageColumns + ` FROM ` + tables.PageMessages + ` WHERE m.chat_id = $1 AND m.workspace_id = $2`
	args := []any{chatID, workspaceID, p.Limit}
	desc := true // read backwards from the end or from Before, then turn round
	switch {
	case !p.After.IsZero():
		q += ` AND (m.sent_at, m.id) > ($4, $5) ORDER BY m.sent_at, m.id`
		args = append(args, ms(p.After.At), p.After.ID)
		desc = false
	case !p.Before.IsZero():
		q += ` AND (m.sent_at, m.id) < ($4, $5) ORDER BY m.sent_at DESC, m.id DESC`
		args = append(args, ms(p.Before.At), p.Before.ID)
	default:
		q += ` ORDER BY m.sent_at DESC, m.id DESC`
	}
	out, err := collectPageMessages(s.pool.Query(ctx, q+` LIMIT $3`, args...))
	if err != nil {
		return nil, err
	}
	if desc {
		slices.Reverse(out)
	}
	msgs := make([]*chathook.Message, len(out))
	for i := range out {
		msgs[i] = &out[i]
	}
	if err := fill(ctx, s.pool, msgs); err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	return out, nil
}

// MessageByUUID finds the message of a permalink.
func (s *Store) MessageByUUID(ctx context.Context, workspaceID, uuid string) (chathook.Message, error) {
	m, err := tables.PageMessage(s.pool.QueryRow(ctx, `SELECT `+tables.PageMessageColumns+` FROM `+tables.PageMessages+`
		WHERE m.uuid = $1 AND m.workspace_id = $2`, uuid, workspaceID))
	if err != nil {
		return m, noRows(err, chathook.ErrNotFound)
	}
	if err := fill(ctx, s.pool, []*chathook.Message{&m}); err != nil {
		return m, fmt.Errorf("message: %w", err)
	}
	return m, nil
}

// Pending counts the deliveries of an endpoint that wait, along the
// pending lanes' index, lane by lane (its chats').
func (s *Store) Pending(ctx context.Context, workspaceID, endpointID string) (int, error) {
	var key int64
	if err := s.pool.QueryRow(ctx, endpointKey, workspaceID, endpointID).Scan(&key); err != nil {
		return 0, noRows(err, chathook.ErrNotFound)
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries
		WHERE lane IN (`+endpointLanes+`) AND state = 'pending' AND endpoint_id = $1`, key).Scan(&n)
	return n, err
}

// MarkRead is the contract's scaffold, until the inbox lands.
func (s *Store) MarkRead(ctx context.Context, workspaceID string, userID, chatID, messageID int64) error {
	return errors.New("mark read: not built yet")
}
