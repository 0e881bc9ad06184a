package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// sqlChatRow reads a chat of the list with its account's phone and its
// latest message (chats.last_message_id, kept by the triggers of
// migration 0015). ?1 is the user whose unread messages are counted.
//
// Unread counts the received messages above the user's mark, deleted
// ones too: the chat still shows each as "deleted", the teammate should
// know the customer wrote and took it back, and the count stays a range
// of the messages_received index, never a read of the rows.
const sqlChatRow = `SELECT c.id, c.workspace_id, c.account_id, c.external_id, c.full_name, c.is_group,
		c.phone, c.responsible_name, c.responsible_email, c.created_at, a.phone,
		m.id, m.uuid, m.chat_id, m.message_id, m.direction, m.sent_at, m.received_at,
		m.sender_name, m.sender_phone, m.recipient_name, m.recipient_phone, m.text, m.is_new_chat, m.skip_reason,
		m.attachments, m.deleted_at,
		CASE WHEN ?1 = 0 THEN 0 ELSE (SELECT count(*) FROM (SELECT 1 FROM messages u
			WHERE u.chat_id = c.id AND u.direction = 'received'
			AND u.id > coalesce((SELECT r.message_id FROM chat_reads r WHERE r.user_id = ?1 AND r.chat_id = c.id), 0)
			LIMIT ` + unreadCap + `)) END
	FROM chats c JOIN accounts a ON a.id = c.account_id JOIN messages m ON m.id = c.last_message_id`

const unreadCap = "100" // store.UnreadCap, checked in init

func init() {
	if unreadCap != strconv.Itoa(store.UnreadCap) {
		panic("sqlite: unreadCap is not store.UnreadCap")
	}
}

// rareHits is the most messages a search's words may be found in for
// the list to be made from them (a read of each one's chat); past it the
// list is walked in activity order, each chat looked at for a hit, which
// stops at the page's end. Both answer the same; each is the quick one
// on its side of about this many. A variable for the tests of both.
const defaultRareHits = 4000

var rareHits = defaultRareHits

// search is a ChatQuery's Search, taken apart.
type search struct {
	match string // an FTS5 expression: every word as a prefix; "" for no words
	phone string // its digits when it is a phone number
}

// parseSearch splits s into its words, the runs of letters and digits,
// each quoted as an FTS5 prefix term: nothing a person types is read as
// FTS5 syntax.
func parseSearch(s string) search {
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"*`
	}
	return search{match: strings.Join(terms, " AND "), phone: store.SearchPhone(s)}
}

// phoneDigits is a chat's phone with only its digits, for a phone search.
const phoneDigits = `replace(replace(replace(replace(replace(replace(c.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', '')`

// Chats reads one page of the chat list: a range of chats_activity (or
// chats_account_activity), in activity order, each chat's latest message
// read by its id; with a search, see chatPage.
func (s *Store) Chats(ctx context.Context, workspaceID string, q store.ChatQuery) ([]chathook.ChatSummary, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	se := parseSearch(q.Search)
	if strings.TrimSpace(q.Search) != "" && se.match == "" && se.phone == "" {
		// Punctuation or emoji alone: no word to find. Nothing matches,
		// rather than everything, so the page says no chat was found.
		return nil, nil
	}
	page, err := s.chatPage(ctx, workspaceID, q, se)
	if err != nil {
		return nil, fmt.Errorf("chats: %w", err)
	}
	if len(page) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(page))
	for i, p := range page {
		ids[i] = p.chat
	}
	rows, err := s.r.QueryContext(ctx, sqlChatRow+` WHERE c.id IN (SELECT value FROM json_each(?2))`, q.UserID, idList(ids))
	if err != nil {
		return nil, fmt.Errorf("chats: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]chathook.ChatSummary, len(page))
	for rows.Next() {
		var cs chathook.ChatSummary
		var created, sent, received, deleted int64
		var attachments int
		c, m := &cs.Chat, &cs.Last
		if err := rows.Scan(&c.ID, &c.WorkspaceID, &c.AccountID, &c.ExternalID, &c.FullName, &c.IsGroup, &c.Phone,
			&c.ResponsibleName, &c.ResponsibleEmail, &created, &cs.AccountPhone,
			&m.ID, &m.UUID, &m.ChatID, &m.MessageID, &m.Direction, &sent, &received,
			&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat,
			&m.SkipReason, &attachments, &deleted, &cs.Unread); err != nil {
			return nil, fmt.Errorf("chats: %w", err)
		}
		c.CreatedAt, m.Timestamp, m.ReceivedAt = fromMS(created), fromMS(sent), fromMS(received)
		if deleted != 0 {
			m.Deleted, m.DeletedAt = true, fromMS(deleted)
		}
		tables.Counted(m, attachments)
		byID[c.ID] = cs
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("chats: %w", err)
	}
	matches, err := s.matches(ctx, page)
	if err != nil {
		return nil, fmt.Errorf("chats: matches: %w", err)
	}
	out := make([]chathook.ChatSummary, 0, len(page))
	for _, p := range page {
		cs, ok := byID[p.chat]
		if !ok {
			continue // not possible: the page was read from chats
		}
		cs.Match = matches[p.match]
		out = append(out, cs)
	}
	msgs := make([]*chathook.Message, 0, len(out))
	for i := range out {
		msgs = append(msgs, &out[i].Last)
		if out[i].Match.ID != 0 {
			msgs = append(msgs, &out[i].Match)
		}
	}
	if err := attach(ctx, s.rs.get(sqlLoadAttachments), msgs); err != nil {
		return nil, fmt.Errorf("chats: attachments: %w", err)
	}
	return out, nil
}

// listed is a chat of a page and, in a search, its newest message that
// matched (0: none, or it matched by name or phone).
type listed struct {
	chat, match int64
}

// chatPage returns the chats of the page, in list order. Without a
// search it is one index range. A search gathers the chats whose name
// matches (chats_fts) and the messages whose text does (messages_fts);
// with few hits the list is made from the hits' chats, with many it is
// walked in order until the page is full (see rareHits).
func (s *Store) chatPage(ctx context.Context, workspaceID string, q store.ChatQuery, se search) ([]listed, error) {
	// One connection: a search's hits are in its temporary table.
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	common := false
	if se.match != "" {
		n, err := findHits(ctx, conn, se.match)
		if err != nil {
			return nil, err
		}
		// A reader's memory is not kept by its last search, also when the
		// search was cancelled (the person typed on).
		defer conn.ExecContext(context.WithoutCancel(ctx), `DELETE FROM temp.search_hits`)
		common = n > int64(rareHits)
	}
	query, args := chatPageSQL(workspaceID, q, se, common)
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []listed
	for rows.Next() {
		var l listed
		if err := rows.Scan(&l.chat, &l.match); err != nil {
			return nil, err
		}
		page = append(page, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !q.After.IsZero() {
		slices.Reverse(page)
	}
	return page, nil
}

// findHits fills the connection's temp.search_hits with the ids of the
// messages whose text matches, and tells how many there are. A table of
// its own, in memory: the page's query reads it as an index in two
// places, where a common table expression was copied into an index for
// each.
func findHits(ctx context.Context, conn *sql.Conn, match string) (int64, error) {
	for _, q := range []string{
		`PRAGMA temp_store = MEMORY`,
		`CREATE TEMP TABLE IF NOT EXISTS search_hits (id INTEGER PRIMARY KEY)`,
		`DELETE FROM temp.search_hits`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return 0, err
		}
	}
	res, err := conn.ExecContext(ctx, `INSERT INTO temp.search_hits SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?`, match)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// chatPageSQL is the query of chatPage: common tells that the search's
// words are in more than rareHits messages.
func chatPageSQL(workspaceID string, q store.ChatQuery, se search, common bool) (string, []any) {
	where := []string{`c.workspace_id = :ws`}
	args := []any{sql.Named("ws", workspaceID)}
	if q.AccountID != 0 {
		where = append(where, `c.account_id = :account`)
		args = append(args, sql.Named("account", q.AccountID))
	}
	order := `DESC`
	switch {
	case !q.After.IsZero():
		where = append(where, `(c.last_sent_at, c.last_message_id) > (:at, :id)`)
		args = append(args, sql.Named("at", ms(q.After.At)), sql.Named("id", q.After.ID))
		order = `ASC` // the nearest above, read upwards, then turned round
	case !q.Before.IsZero():
		where = append(where, `(c.last_sent_at, c.last_message_id) < (:at, :id)`)
		args = append(args, sql.Named("at", ms(q.Before.At)), sql.Named("id", q.Before.ID))
	}
	match := `0`
	if se.match != "" {
		args = append(args, sql.Named("match", se.match))
		found := []string{`c.id IN (SELECT rowid FROM chats_fts WHERE chats_fts MATCH :match)`}
		if se.phone != "" {
			found = append(found, `instr(`+phoneDigits+`, :phone) > 0`)
			args = append(args, sql.Named("phone", se.phone))
		}
		// The newest hit of the chat, in timeline order.
		match = `coalesce((SELECT h.id FROM messages h WHERE h.chat_id = c.id AND h.id IN temp.search_hits
			ORDER BY h.sent_at DESC, h.id DESC LIMIT 1), 0)`
		if common {
			found = append(found, `EXISTS (SELECT 1 FROM messages h WHERE h.chat_id = c.id AND h.id IN temp.search_hits)`)
		} else {
			found = append(found, `c.id IN (SELECT m.chat_id FROM messages m WHERE m.id IN temp.search_hits)`)
		}
		where = append(where, `(`+strings.Join(found, ` OR `)+`)`)
	}
	query := `SELECT c.id, ` + match + ` FROM chats c WHERE ` + strings.Join(where, ` AND `) +
		` ORDER BY c.last_sent_at ` + order + `, c.last_message_id ` + order + ` LIMIT :limit`
	return query, append(args, sql.Named("limit", q.Limit))
}

// matches reads the matched messages of a page, by id.
func (s *Store) matches(ctx context.Context, page []listed) (map[int64]chathook.Message, error) {
	var ids []int64
	for _, p := range page {
		if p.match != 0 {
			ids = append(ids, p.match)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+tables.PageMessageColumns+` FROM `+tables.PageMessages+`
		WHERE m.id IN (SELECT value FROM json_each(?))`, idList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int64]chathook.Message, len(ids))
	for rows.Next() {
		m, err := tables.PageMessage(rows)
		if err != nil {
			return nil, err
		}
		out[m.ID] = m
	}
	return out, rows.Err()
}

// MarkRead moves a user's mark in a chat forward to messageID, in one
// upsert that only ever raises it.
func (s *Store) MarkRead(ctx context.Context, workspaceID string, userID, chatID, messageID int64) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO chat_reads (user_id, chat_id, message_id)
		SELECT u.id, c.id, CASE WHEN m.id = c.last_message_id THEN (SELECT max(id) FROM messages WHERE chat_id = c.id) ELSE m.id END
		FROM users u JOIN chats c ON c.id = ? AND c.workspace_id = u.workspace_id
		JOIN messages m ON m.id = ? AND m.chat_id = c.id
		WHERE u.id = ? AND u.workspace_id = ?
		ON CONFLICT (user_id, chat_id) DO UPDATE SET message_id = max(message_id, excluded.message_id)`,
		chatID, messageID, userID, workspaceID)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark read: %w", err)
	} else if n == 0 {
		return chathook.ErrNotFound
	}
	return nil
}
