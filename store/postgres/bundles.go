package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Each message in one bundle, across instances
//
// Every instance runs the flusher at each hour's boundary, so two
// FlushChats on the same chats at once are the normal case, not a race
// to rule out. What keeps a message in exactly one bundle of an endpoint
// is its waiting row's lock:
//
//   - loadPending locks the waiting rows it reads (FOR UPDATE). A
//     flusher that finds a row locked by another waits for it; when that
//     one commits, the row is gone (READ COMMITTED re-checks it), so a
//     message already bundled is left out. Both lock a chat's waiting
//     rows in the same order, so the first to lock a chat's oldest
//     message takes the whole chat, and the other finds nothing.
//   - insertBundle deletes the waiting rows of the messages it bundles,
//     and the flush fails (and rolls back) unless it deleted every one.
//   - FlushChats reads the endpoint FOR KEY SHARE and UpdateWebhook and
//     DeleteWebhook lock it FOR UPDATE: a change of granularity (and the
//     unbundle of a switch to none) or a delete waits for flushes in
//     progress, and a flush started after it sees the new granularity.

// loadPending locks and reads the next bundle's worth of a chat's ($2)
// messages waiting for an endpoint ($1), received before $3, in window
// ($4: its length in ms), then timestamp order.
const loadPending = `SELECT ` + messageColumns + ` FROM waiting w JOIN messages m ON m.id = w.message_id
	WHERE w.endpoint_id = $1 AND w.chat_id = $2 AND w.received_at < $3
	ORDER BY w.received_at / $4, m.sent_at, m.id
	LIMIT $5
	FOR UPDATE OF w`

// insertBundle queues a bundle delivery of an endpoint and puts its
// messages ($10) in it, taking them out of the endpoint's waiting, in one
// statement; it returns how many waited.
const insertBundle = `WITH b AS (
	INSERT INTO deliveries
		(workspace_id, endpoint_id, lane, chat_id, event_id, kind, messages, due_at, created_at, window_start, window_end, is_new_chat)
	VALUES ($1, $2, $3, $4, $5, 'bundle', cardinality($10::bigint[]), $6, $6, $7, $8, $9)
	RETURNING id
), u AS (
	DELETE FROM waiting WHERE endpoint_id = $2 AND chat_id = $4 AND message_id = ANY($10) RETURNING message_id
)
INSERT INTO bundled (delivery_id, message_id) SELECT b.id, u.message_id FROM b, u`

// BundleWebhooks returns the endpoints that gather bundles.
func (s *Store) BundleWebhooks(ctx context.Context) ([]chathook.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM endpoints
		WHERE granularity <> 'none' AND url <> '' AND deleted_at = 0 AND format = 'seed' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (chathook.Webhook, error) { return scanWebhook(row) })
}

// PendingChats pages through the chats with messages waiting for an
// endpoint's bundle, along waiting's key.
func (s *Store) PendingChats(ctx context.Context, endpoint int64, before time.Time, after int64, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT chat_id FROM waiting
		WHERE endpoint_id = $1 AND chat_id > $2 AND received_at < $3
		ORDER BY chat_id LIMIT $4`, endpoint, after, ms(before), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// FlushChats bundles waiting messages in one transaction; see store.Store
// and the comment above. It reads a chat's messages one bundle's worth at
// a time, so memory holds at most one bundle, however many messages wait.
// Chats are flushed in id order, so two flushers lock in the same order.
func (s *Store) FlushChats(ctx context.Context, endpoint int64, chatIDs []int64, before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	chatIDs = slices.Sorted(slices.Values(chatIDs))
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		bundles, messages = 0, 0
		var g chathook.Granularity
		var workspaceID string
		var slot int
		err := tx.QueryRow(ctx, `SELECT workspace_id, slot, granularity FROM endpoints WHERE id = $1 AND deleted_at = 0 FOR KEY SHARE`,
			endpoint).Scan(&workspaceID, &slot, &g)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted: what waited was dropped with it
		}
		if err != nil {
			return fmt.Errorf("flush: endpoint: %w", err)
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
		ep := flushing{workspaceID: workspaceID, key: endpoint, slot: slot, g: g}
		for _, chatID := range chatIDs {
			if _, ok := created[chatID]; !ok {
				continue
			}
			b, m, err := ep.flushChat(ctx, tx, chatID, created[chatID], before, now, split)
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

// flushing is the endpoint a flush bundles for.
type flushing struct {
	workspaceID string
	key         int64
	slot        int
	g           chathook.Granularity
}

// flushChat bundles one chat's waiting messages, a bundle at a time.
func (ep flushing) flushChat(ctx context.Context, tx pgx.Tx, chatID, created int64,
	before, now time.Time, split store.Splitter) (bundles, messages int, err error) {
	g := ep.g
	announced := false // is_new_chat goes on the first part only
	for {
		msgs, err := collectMessages(tx.Query(ctx, loadPending, ep.key, chatID, ms(before), g.Window().Milliseconds(), split.Max))
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
		tag, err := tx.Exec(ctx, insertBundle, ep.workspaceID, ep.key, tables.Lane(chatID, ep.slot), chatID, eventID,
			ms(now), ms(start), ms(end), isNew, ids)
		if err != nil {
			return bundles, messages, err
		}
		if n := tag.RowsAffected(); n != int64(len(ids)) {
			// Cannot happen while loadPending holds the row locks; if it
			// did, committing would put a message in two bundles.
			return bundles, messages, fmt.Errorf("bundle %s: took %d of %d messages", eventID, n, len(ids))
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
	return collectMessages(s.pool.Query(ctx, `SELECT `+messageColumns+` FROM bundled b JOIN messages m ON m.id = b.message_id
		WHERE b.delivery_id = $1 ORDER BY m.sent_at, m.id`, deliveryID))
}
