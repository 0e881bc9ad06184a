package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

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

// summaryColumns are the columns of a message aliased a, for a chat's
// Last or Match: zero when there is none.
func summaryColumns(a string) string {
	return strings.NewReplacer("m.", a+".").Replace(`COALESCE(m.id, 0), COALESCE(m.uuid, ''), COALESCE(m.chat_id, 0),
	COALESCE(m.message_id, ''), COALESCE(m.direction, ''), COALESCE(m.sent_at, 0), COALESCE(m.received_at, 0),
	COALESCE(m.sender_name, ''), COALESCE(m.sender_phone, ''), COALESCE(m.recipient_name, ''),
	COALESCE(m.recipient_phone, ''), COALESCE(m.text, ''), COALESCE(m.is_new_chat, false), COALESCE(m.skip_reason, ''),
	COALESCE(m.attachments, 0), COALESCE(m.deleted_at, 0)`)
}

// scanSummaryMessage returns the destinations of summaryColumns for m,
// and a func that finishes m once scanned.
func scanSummaryMessage(m *chathook.Message) ([]any, func()) {
	var sent, received, deleted int64
	var attachments int
	return []any{&m.ID, &m.UUID, &m.ChatID, &m.MessageID, &m.Direction, &sent, &received,
			&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat,
			&m.SkipReason, &attachments, &deleted}, func() {
			if m.ID != 0 {
				m.Timestamp, m.ReceivedAt = fromMS(sent), fromMS(received)
			}
			if deleted != 0 {
				m.Deleted, m.DeletedAt = true, fromMS(deleted)
			}
			tables.Counted(m, attachments)
		}
}

// Chats pages along chats_activity (or chats_account_activity): each
// chat's latest message is kept on its row (see insertMessages), so a
// page reads Limit chats and their latest messages by id. A search
// either sorts its few matching chats or filters that walk (see
// searchFew); Match is then the newest matching message of each chat
// found, also when its name or phone matched too.
func (s *Store) Chats(ctx context.Context, workspaceID string, q store.ChatQuery) ([]chathook.ChatSummary, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	args := []any{workspaceID, q.Limit}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"c.workspace_id = $1"}
	if q.AccountID != 0 {
		where = append(where, "c.account_id = "+arg(q.AccountID))
	}
	order, reverse := "DESC", false
	switch {
	case !q.After.IsZero():
		where = append(where, fmt.Sprintf("(c.last_sent_at, c.last_message_id) > (%s, %s)", arg(ms(q.After.At)), arg(q.After.ID)))
		order, reverse = "ASC", true // the nearest above, turned round
	case !q.Before.IsZero():
		where = append(where, fmt.Sprintf("(c.last_sent_at, c.last_message_id) < (%s, %s)", arg(ms(q.Before.At)), arg(q.Before.ID)))
	}
	match := `(SELECT * FROM messages WHERE false)`
	if strings.TrimSpace(q.Search) != "" {
		query, digits := prefixQuery(q.Search), store.SearchPhone(q.Search)
		if query == "" && digits == "" {
			// Punctuation alone: no word to find. Nothing matches,
			// rather than everything, so the page says "no chats found".
			return nil, nil
		}
		ids, err := s.searchFew(ctx, workspaceID, query, digits)
		if err != nil {
			return nil, fmt.Errorf("chats: search: %w", err)
		}
		var or []string
		if query != "" {
			tsq := arg(query) + "::tsquery"
			// The walk tests a chat's messages through the match's own
			// LATERAL (LIMIT 1, down messages_timeline): an EXISTS here was
			// planned as a hashed subplan that reads every match first
			// (1 s for two common words on 1M messages, 85 ms this way).
			or = append(or, "c.name_words @@ "+tsq, "mt.id IS NOT NULL")
			match = `(SELECT * FROM messages m WHERE m.chat_id = c.id AND m.deleted_at = 0 AND m.words @@ ` + tsq + `
				ORDER BY m.sent_at DESC, m.id DESC LIMIT 1)`
		}
		switch {
		case ids != nil:
			where = append(where, "c.id = ANY("+arg(ids)+")")
		default:
			if digits != "" {
				or = append(or, "strpos(regexp_replace(c.phone, '[^0-9]', '', 'g'), "+arg(digits)+") > 0")
			}
			where = append(where, "("+strings.Join(or, " OR ")+")")
		}
	}
	unread := `(SELECT 0 AS n)`
	if q.UserID != 0 {
		// Counting stops at the cap: a chat of 50,000 unread messages
		// costs what one of UnreadCap does.
		unread = fmt.Sprintf(`(SELECT count(*) AS n FROM (SELECT FROM messages u WHERE u.chat_id = c.id AND u.direction = 'received'
			AND u.id > COALESCE((SELECT message_id FROM read_marks WHERE user_id = %s AND chat_id = c.id), 0) LIMIT %d) x)`,
			arg(q.UserID), store.UnreadCap)
	}
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.workspace_id, c.account_id, c.external_id, c.full_name, c.is_group,
			c.phone, c.responsible_name, c.responsible_email, c.created_at, a.phone, `+summaryColumns("l")+`,
			`+summaryColumns("mt")+`, un.n
		FROM chats c JOIN accounts a ON a.id = c.account_id
		LEFT JOIN messages l ON l.id = c.last_message_id
		LEFT JOIN LATERAL `+match+` mt ON true
		LEFT JOIN LATERAL `+unread+` un ON true
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY c.last_sent_at `+order+`, c.last_message_id `+order+` LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("chats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.ChatSummary, error) {
		var cs chathook.ChatSummary
		var created int64
		c := &cs.Chat
		last, lastDone := scanSummaryMessage(&cs.Last)
		found, foundDone := scanSummaryMessage(&cs.Match)
		dest := append([]any{&c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone,
			&c.ResponsibleName, &c.ResponsibleEmail, &created, &cs.AccountPhone}, last...)
		dest = append(append(dest, found...), &cs.Unread)
		err := row.Scan(dest...)
		c.CreatedAt = fromMS(created)
		lastDone()
		foundDone()
		return cs, err
	})
	if err != nil {
		return nil, fmt.Errorf("chats: %w", err)
	}
	if reverse {
		slices.Reverse(out)
	}
	msgs := make([]*chathook.Message, 0, 2*len(out))
	for i := range out {
		msgs = append(msgs, &out[i].Last)
		if out[i].Match.ID != 0 {
			msgs = append(msgs, &out[i].Match)
		}
	}
	if err := attach(ctx, s.pool, msgs); err != nil {
		return nil, fmt.Errorf("chats: attachments: %w", err)
	}
	return out, nil
}

// fewMatches is how many chats (or messages) a search gathers before it
// takes its words for common ones: see searchFew.
var fewMatches = 2000

// searchFew returns the chats of the workspace that match a search, by
// name, phone (digits) or message text (query), if there are at most
// fewMatches of each kind; nil if there are more.
//
// A search is answered one of two ways, as neither is fast for every
// word: few matches are gathered through the GIN indexes, then sorted
// by activity (walking the list would test every chat for a rare word);
// a common word walks the list in activity order and tests each chat
// until the page is full (gathering would read every match of "hello").
func (s *Store) searchFew(ctx context.Context, workspaceID, query, digits string) ([]int64, error) {
	var more bool
	var ids []int64
	err := s.pool.QueryRow(ctx, `WITH n AS (
		SELECT id FROM chats WHERE workspace_id = $1 AND $2 <> '' AND name_words @@ $2::tsquery LIMIT $4::int
	), m AS (
		SELECT chat_id AS id FROM messages
		WHERE workspace_id = $1 AND $2 <> '' AND deleted_at = 0 AND words @@ $2::tsquery LIMIT $4::int
	), p AS (
		SELECT id FROM chats
		WHERE workspace_id = $1 AND $3 <> '' AND strpos(regexp_replace(phone, '[^0-9]', '', 'g'), $3) > 0 LIMIT $4::int
	)
	SELECT (SELECT count(*) FROM n) = $4::int OR (SELECT count(*) FROM m) = $4::int OR (SELECT count(*) FROM p) = $4::int,
		ARRAY(SELECT id FROM n UNION SELECT id FROM m UNION SELECT id FROM p)`,
		workspaceID, query, digits, fewMatches+1).Scan(&more, &ids)
	if err != nil || more {
		return nil, err
	}
	if ids == nil {
		ids = []int64{}
	}
	return ids, nil
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

// MarkRead moves the user's mark forward only, in one statement
// (GREATEST on conflict), so two tabs marking at once keep the later. The
// message must be the chat's: an id from elsewhere could mark a chat read
// beyond what the user saw.
func (s *Store) MarkRead(ctx context.Context, workspaceID string, userID, chatID, messageID int64) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO read_marks (user_id, chat_id, message_id)
		SELECT u.id, c.id, CASE WHEN m.id = c.last_message_id THEN (SELECT max(id) FROM messages WHERE chat_id = c.id) ELSE m.id END
		FROM users u, chats c, messages m
		WHERE u.id = $2 AND u.workspace_id = $1 AND c.id = $3 AND c.workspace_id = $1 AND m.id = $4 AND m.chat_id = c.id
		ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = GREATEST(read_marks.message_id, excluded.message_id)`,
		workspaceID, userID, chatID, messageID)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("mark read: user %d, chat %d, message %d: %w", userID, chatID, messageID, chathook.ErrNotFound)
	}
	return nil
}
