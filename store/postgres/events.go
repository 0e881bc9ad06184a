package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// queueFixed writes the deliveries of an event whose data is fixed now
// (an account's, a status), of chat (0: none).
func queueFixed(ctx context.Context, tx pgx.Tx, workspaceID string, chat int64, queued []tables.Queued, data []byte, at time.Time) error {
	for _, q := range queued {
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries
				(workspace_id, endpoint_id, lane, chat_id, event_id, kind, type, data, due_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			workspaceID, q.Target.Key, q.Lane, chat, q.EventID, q.Kind, q.Type, string(data), ms(at)); err != nil {
			return fmt.Errorf("%s: %w", q.Type, err)
		}
	}
	return nil
}

// queueStatus queues message:status of a message of a chat for those of
// targets (the workspace's, as targetsForReply reads them) that take it,
// and reports whether it queued any.
func queueStatus(ctx context.Context, tx pgx.Tx, targets []tables.Target, workspaceID string, chatID, accountID int64,
	messageID, uuid string, status chathook.ReplyState, failure string, at time.Time) (bool, error) {
	queued, data := tables.StatusEvents(targets, chatID, accountID, messageID, uuid, string(status), failure, at)
	return len(queued) > 0, queueFixed(ctx, tx, workspaceID, chatID, queued, data, at)
}

// announce records an account's move to its state (a, as written) at
// now, and queues the account event it makes for the endpoints that take
// it (see tables.Announcement), in tx.
func announce(ctx context.Context, tx pgx.Tx, announced string, a chathook.Account, now time.Time) error {
	typ, reason, after := tables.Announcement(announced, a)
	if _, err := tx.Exec(ctx, `UPDATE accounts SET state_at = $1, announced = $2 WHERE id = $3`, ms(now), after, a.ID); err != nil {
		return fmt.Errorf("account state: %w", err)
	}
	if typ == "" {
		return nil
	}
	return queueAccountEvent(ctx, tx, a, typ, reason, now)
}

// queueAccountEvent queues an account event for every endpoint of the
// account's workspace that takes it.
func queueAccountEvent(ctx context.Context, tx pgx.Tx, a chathook.Account, typ, reason string, now time.Time) error {
	targets, err := readTargets(tx.Query(ctx, targetsForReply, a.WorkspaceID))
	if err != nil {
		return fmt.Errorf("account event: endpoints: %w", err)
	}
	queued, data := tables.AccountEvents(targets, a, typ, reason, event.NewID(now))
	return queueFixed(ctx, tx, a.WorkspaceID, 0, queued, data, now)
}

// AnnounceUnreachable tells endpoints of every account that has been
// reconnecting since before now - tables.Unreachable, after it was
// announced connected, that it is disconnected; see store.Accounts. The
// update takes each account's row, so of instances sweeping at once one
// announces it.
func (s *Store) AnnounceUnreachable(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		lost, err := collectAccounts(tx.Query(ctx, `UPDATE accounts SET announced = $1
			WHERE announced = $2 AND state = $3 AND state_at <= $4 RETURNING `+accountColumns,
			tables.AnnouncedDisconnected, tables.AnnouncedConnected, chathook.AccountConnecting, ms(now.Add(-tables.Unreachable))))
		if err != nil {
			return err
		}
		for _, a := range lost {
			if err := queueAccountEvent(ctx, tx, a, event.AccountLost, tables.UnreachableReason, now); err != nil {
				return err
			}
		}
		n = len(lost)
		return nil
	})
	return n, err
}

// unbundleEvents queues each message waiting for the endpoint's bundle
// as the message event the endpoint subscribes to, if any, and takes
// them out of waiting. The inserts go in one round trip, in message
// order: delivery ids follow it.
func unbundleEvents(ctx context.Context, tx pgx.Tx, wh chathook.Webhook, now int64) error {
	rows, err := tx.Query(ctx, `WITH w AS (DELETE FROM waiting WHERE endpoint_id = $1 RETURNING message_id)
		SELECT m.id, m.chat_id, m.direction, e.slot FROM w JOIN messages m ON m.id = w.message_id JOIN endpoints e ON e.id = $1
		ORDER BY m.id`, wh.Key)
	if err != nil {
		return err
	}
	batch := &pgx.Batch{}
	var id, chat int64
	var direction chathook.Direction
	var slot int
	_, err = pgx.ForEachRow(rows, []any{&id, &chat, &direction, &slot}, func() error {
		typ := event.Subscribed(wh.Events, event.MessageNew, tables.MessageType(direction))
		if typ == "" {
			return nil
		}
		batch.Queue(`INSERT INTO deliveries
				(workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, type, due_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`, wh.WorkspaceID, wh.Key, tables.Lane(chat, slot), chat, id,
			event.NewID(time.UnixMilli(now)), chathook.KindEvent, typ, now)
		return nil
	})
	if err != nil || batch.Len() == 0 {
		return err
	}
	return tx.SendBatch(ctx, batch).Close()
}
