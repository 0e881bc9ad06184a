package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/jackc/pgx/v5"
)

// Each message in one bundle, across instances
//
// Every instance runs the flusher at each hour's boundary, so two
// FlushChats on the same chats at once are the normal case, not a race
// to rule out. What keeps a message in exactly one bundle is its row lock:
//
//   - loadPending locks the messages it reads (FOR NO KEY UPDATE) and
//     selects only those still pending. A flusher that finds a row locked
//     by another waits for it; when that one commits, PostgreSQL checks
//     the row's new version against the WHERE clause again (READ
//     COMMITTED), so a message already bundled is left out. Both lock a
//     chat's messages in the same order, so the first to lock a chat's
//     oldest message takes the whole chat, and the other finds nothing.
//   - insertBundle only marks rows that are still pending, and the flush
//     fails (and rolls back) unless it marked every message it bundled;
//     the unique event id ("bnd_" + first message) is a last guard.
//   - FlushChats reads the webhook FOR KEY SHARE and UpdateWebhook locks
//     it FOR UPDATE: a change of granularity (and the unbundle of a switch
//     to none) waits for flushes in progress, and a flush started after
//     it sees the new granularity.

// loadPending locks and reads a chat's next bundle's worth of waiting
// messages received before $3, in window ($4: its length in ms), then
// timestamp order.
const loadPending = `SELECT ` + messageColumns + ` FROM messages m
	WHERE m.workspace_id = $1 AND m.chat_id = $2 AND m.pending AND m.received_at < $3
	ORDER BY m.received_at / $4, m.sent_at, m.id
	LIMIT $5
	FOR NO KEY UPDATE`

// insertBundle queues a bundle delivery and marks its messages ($8) as in
// it, in one statement; it returns how many were marked.
const insertBundle = `WITH b AS (
	INSERT INTO deliveries
		(workspace_id, chat_id, event_id, kind, messages, due_at, created_at, window_start, window_end, is_new_chat)
	VALUES ($1, $2, $3, 'bundle', cardinality($8::bigint[]), $4, $4, $5, $6, $7)
	RETURNING id
)
UPDATE messages SET pending = false, bundle_id = b.id FROM b
WHERE messages.id = ANY($8) AND messages.pending AND messages.chat_id = $2`

// BundleWebhooks returns the webhooks that gather bundles.
func (s *Store) BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE granularity <> 'none' AND url <> ''`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Webhook, error) { return scanWebhook(row) })
}

// PendingChats pages through the chats with messages waiting for a bundle,
// along messages_pending.
func (s *Store) PendingChats(ctx context.Context, workspaceID string, before time.Time, after int64, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT chat_id FROM messages
		WHERE workspace_id = $1 AND pending AND chat_id > $2 AND received_at < $3
		ORDER BY chat_id LIMIT $4`, workspaceID, after, ms(before), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// FlushChats bundles waiting messages in one transaction; see store.Store
// and the comment above. It reads a chat's messages one bundle's worth at
// a time, so memory holds at most one bundle, however many messages wait.
// Chats are flushed in id order, so two flushers lock in the same order.
func (s *Store) FlushChats(ctx context.Context, workspaceID string, chatIDs []int64, before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	chatIDs = slices.Sorted(slices.Values(chatIDs))
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		bundles, messages = 0, 0
		var g chathook.Granularity
		if err := tx.QueryRow(ctx, `SELECT granularity FROM webhooks WHERE workspace_id = $1 FOR KEY SHARE`,
			workspaceID).Scan(&g); err != nil {
			return fmt.Errorf("flush: webhook: %w", err)
		}
		if g.Window() == 0 {
			return nil // switched to none: UpdateWebhook queued them one by one
		}
		// A chat of another workspace has nothing of this one's waiting.
		rows, err := tx.Query(ctx, `SELECT id, created_at FROM chats WHERE id = ANY($1) AND workspace_id = $2`, chatIDs, workspaceID)
		if err != nil {
			return fmt.Errorf("flush: chats: %w", err)
		}
		created := map[int64]int64{}
		var id, at int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &at}, func() error { created[id] = at; return nil }); err != nil {
			return fmt.Errorf("flush: chats: %w", err)
		}
		for _, chatID := range chatIDs {
			if _, ok := created[chatID]; !ok {
				continue
			}
			b, m, err := flushChat(ctx, tx, workspaceID, chatID, created[chatID], g, before, now, split)
			if err != nil {
				return fmt.Errorf("flush chat %d: %w", chatID, err)
			}
			bundles, messages = bundles+b, messages+m
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return bundles, messages, nil
}

// flushChat bundles one chat's waiting messages, a bundle at a time.
func flushChat(ctx context.Context, tx pgx.Tx, workspaceID string, chatID, created int64, g chathook.Granularity,
	before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	announced := false // is_new_chat goes on the first part only
	for {
		msgs, err := collectMessages(tx.Query(ctx, loadPending, workspaceID, chatID, ms(before), g.Window().Milliseconds(), split.Max))
		if err != nil || len(msgs) == 0 {
			return bundles, messages, err
		}
		// A short read that goes into one bundle whole was the chat's last:
		// no need to look again.
		done := len(msgs) < split.Max
		if n := split.FirstPart(msgs, g); n < len(msgs) {
			msgs, done = msgs[:n], false
		}
		start := g.WindowStart(msgs[0].ReceivedAt)
		end := start.Add(g.Window())
		isNew := !announced && created >= ms(start) && created < ms(end)
		announced = announced || isNew
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		eventID := "bnd_" + strings.ReplaceAll(msgs[0].UUID, "-", "")
		tag, err := tx.Exec(ctx, insertBundle, workspaceID, chatID, eventID, ms(now), ms(start), ms(end), isNew, ids)
		if err != nil {
			return bundles, messages, err
		}
		if n := tag.RowsAffected(); n != int64(len(ids)) {
			// Cannot happen while loadPending holds the row locks; if it
			// did, committing would put a message in two bundles.
			return bundles, messages, fmt.Errorf("bundle %s: marked %d of %d messages", eventID, n, len(ids))
		}
		bundles++
		messages += len(msgs)
		if done {
			return bundles, messages, nil
		}
	}
}

// BundleMessages returns a bundle's messages in timestamp order.
func (s *Store) BundleMessages(ctx context.Context, deliveryID int64) ([]chathook.Message, error) {
	return collectMessages(s.pool.Query(ctx, `SELECT `+messageColumns+` FROM messages m
		WHERE m.bundle_id = $1 ORDER BY m.sent_at, m.id`, deliveryID))
}
