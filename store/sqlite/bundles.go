package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// BundleWebhooks returns the webhooks that gather bundles.
func (s *Store) BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE granularity <> 'none' AND url <> ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chathook.Webhook
	for rows.Next() {
		wh, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, wh)
	}
	return out, rows.Err()
}

// PendingChats pages through the chats with messages waiting for a bundle.
func (s *Store) PendingChats(ctx context.Context, workspaceID string, before time.Time, after int64, limit int) ([]int64, error) {
	rows, err := s.rs.get(sqlPendingChats).QueryContext(ctx, workspaceID, after, ms(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

const (
	sqlGranularity = `SELECT granularity FROM webhooks WHERE workspace_id = ?`
	sqlChatCreated = `SELECT created_at FROM chats WHERE id = ? AND workspace_id = ?`
	sqlLoadPending = `SELECT ` + messageColumns + ` FROM messages m
		WHERE m.chat_id = ? AND m.pending = 1 AND m.received_at < ?
		ORDER BY m.received_at / ?, m.sent_at, m.id LIMIT ?`
	sqlInsertBundle = `INSERT INTO deliveries
		(workspace_id, chat_id, event_id, kind, messages, due_at, created_at, window_start, window_end, is_new_chat)
		VALUES (?, ?, ?, 'bundle', ?, ?, ?, ?, ?, ?) RETURNING id`
	sqlPendingChats = `SELECT DISTINCT chat_id FROM messages
		WHERE workspace_id = ? AND pending = 1 AND chat_id > ? AND received_at < ?
		ORDER BY chat_id LIMIT ?`
	sqlBundleMessages = `SELECT ` + messageColumns + ` FROM messages m WHERE m.bundle_id = ? ORDER BY m.sent_at, m.id`
	sqlMarkBundled    = `UPDATE messages SET pending = 0, bundle_id = ? WHERE id IN (SELECT value FROM json_each(?))`
)

// FlushChats bundles waiting messages; see store.Store. It reads a chat's
// messages one bundle's worth at a time, so memory holds at most one
// bundle, however many messages wait.
func (s *Store) FlushChats(ctx context.Context, workspaceID string, chatIDs []int64, before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	var granularity, chatCreated, load, insert, mark *sql.Stmt
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{{&granularity, sqlGranularity}, {&chatCreated, sqlChatCreated}, {&load, sqlLoadPending}, {&insert, sqlInsertBundle},
		{&mark, sqlMarkBundled}} {
		*p.st = s.prep(ctx, tx, p.query)
	}
	var g chathook.Granularity
	if err := granularity.QueryRowContext(ctx, workspaceID).Scan(&g); err != nil {
		return 0, 0, fmt.Errorf("flush: webhook: %w", err)
	}
	window := g.Window().Milliseconds()
	if window == 0 {
		return 0, 0, nil // switched to none: UpdateWebhook queued them one by one
	}
	for _, chatID := range chatIDs {
		var created int64
		err := chatCreated.QueryRowContext(ctx, chatID, workspaceID).Scan(&created)
		if err != nil {
			return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
		}
		announced := false // is_new_chat goes on the first part only
		for {
			msgs, err := loadMessages(ctx, load, chatID, ms(before), window, split.Max)
			if err != nil || len(msgs) == 0 {
				if err != nil {
					return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
				}
				break
			}
			msgs = msgs[:split.FirstPart(msgs, g)]
			start := g.WindowStart(msgs[0].ReceivedAt)
			end := start.Add(g.Window())
			isNew := !announced && created >= ms(start) && created < ms(end)
			announced = announced || isNew
			eventID := "bnd_" + strings.ReplaceAll(msgs[0].UUID, "-", "")
			var id int64
			if err := insert.QueryRowContext(ctx, workspaceID, chatID, eventID, len(msgs), ms(now), ms(now),
				ms(start), ms(end), isNew).Scan(&id); err != nil {
				return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			ids := make([]int64, len(msgs))
			for i, m := range msgs {
				ids[i] = m.ID
			}
			if _, err := mark.ExecContext(ctx, id, idList(ids)); err != nil {
				return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			bundles++
			messages += len(msgs)
		}
	}
	return bundles, messages, tx.Commit()
}

func loadMessages(ctx context.Context, load *sql.Stmt, chatID, before, window int64, limit int) ([]chathook.Message, error) {
	return collectMessages(load.QueryContext(ctx, chatID, before, window, limit))
}

// BundleMessages returns a bundle's messages in timestamp order.
func (s *Store) BundleMessages(ctx context.Context, deliveryID int64) ([]chathook.Message, error) {
	return collectMessages(s.rs.get(sqlBundleMessages).QueryContext(ctx, deliveryID))
}

// collectMessages reads every row of a query of messageColumns.
func collectMessages(rows *sql.Rows, err error) ([]chathook.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []chathook.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}
