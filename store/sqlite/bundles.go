package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// BundleWebhooks returns the endpoints that gather bundles.
func (s *Store) BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM endpoints
		WHERE granularity <> 'none' AND url <> '' AND deleted_at = 0 AND format = 'seed'`)
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
func (s *Store) PendingChats(ctx context.Context, endpoint int64, before time.Time, after int64, limit int) ([]int64, error) {
	rows, err := s.rs.get(sqlPendingChats).QueryContext(ctx, endpoint, after, ms(before), limit)
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
	sqlGranularity = `SELECT workspace_id, slot, granularity FROM endpoints WHERE id = ? AND deleted_at = 0`
	sqlChatCreated = `SELECT created_at FROM chats WHERE id = ? AND workspace_id = ?`
	sqlLoadPending = `SELECT ` + messageColumns + ` FROM waiting w JOIN messages m ON m.id = w.message_id
		WHERE w.endpoint_id = ? AND w.chat_id = ? AND w.received_at < ?
		ORDER BY w.received_at / ?, m.sent_at, m.id LIMIT ?`
	sqlInsertBundle = `INSERT INTO deliveries
		(workspace_id, endpoint_id, lane, chat_id, event_id, kind, messages, due_at, created_at, window_start, window_end, is_new_chat)
		VALUES (?, ?, ?, ?, ?, 'bundle', ?, ?, ?, ?, ?, ?) RETURNING id`
	sqlPendingChats = `SELECT DISTINCT chat_id FROM waiting
		WHERE endpoint_id = ? AND chat_id > ? AND received_at < ?
		ORDER BY chat_id LIMIT ?`
	sqlBundleMessages = `SELECT ` + messageColumns + ` FROM bundled b JOIN messages m ON m.id = b.message_id
		WHERE b.delivery_id = ? ORDER BY m.sent_at, m.id`
	// sqlMarkBundled puts messages (?2) into a bundle (?1); sqlUnwait
	// takes them out of the endpoint's (?1) waiting, of a chat (?2).
	sqlMarkBundled = `INSERT INTO bundled (delivery_id, message_id) SELECT ?1, value FROM json_each(?2)`
	sqlUnwait      = `DELETE FROM waiting WHERE endpoint_id = ?1 AND chat_id = ?2 AND message_id IN (SELECT value FROM json_each(?3))`
)

// FlushChats bundles waiting messages; see store.Store. It reads a chat's
// messages one bundle's worth at a time, so memory holds at most one
// bundle, however many messages wait.
func (s *Store) FlushChats(ctx context.Context, endpoint int64, chatIDs []int64, before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	var granularity, chatCreated, load, insert, mark, unwait *sql.Stmt
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{{&granularity, sqlGranularity}, {&chatCreated, sqlChatCreated}, {&load, sqlLoadPending}, {&insert, sqlInsertBundle},
		{&mark, sqlMarkBundled}, {&unwait, sqlUnwait}} {
		*p.st = s.prep(ctx, tx, p.query)
	}
	var g chathook.Granularity
	var workspaceID string
	var slot int
	if err := granularity.QueryRowContext(ctx, endpoint).Scan(&workspaceID, &slot, &g); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, nil // deleted: what waited was dropped with it
		}
		return 0, 0, fmt.Errorf("flush: endpoint: %w", err)
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
			msgs, err := collectMessages(load.QueryContext(ctx, endpoint, chatID, ms(before), window, split.Max))
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
			if err := insert.QueryRowContext(ctx, workspaceID, endpoint, tables.Lane(chatID, slot), chatID, eventID, len(msgs), ms(now), ms(now),
				ms(start), ms(end), isNew).Scan(&id); err != nil {
				return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			ids := make([]int64, len(msgs))
			for i, m := range msgs {
				ids[i] = m.ID
			}
			list := idList(ids)
			if _, err := mark.ExecContext(ctx, id, list); err != nil {
				return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			if _, err := unwait.ExecContext(ctx, endpoint, chatID, list); err != nil {
				return bundles, messages, fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			bundles++
			messages += len(msgs)
		}
	}
	return bundles, messages, tx.Commit()
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
