package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// recoverDeliveries makes a workspace's failed and discarded deliveries
// queued in [$3, $4) pending again, due at $1 (see store.Recovery.Recover),
// found along deliveries_recoverable. A lease still running (a discarded
// delivery whose POST is under way) is kept; an expired one is cleared.
// Two recoveries at once are ordered by the rows' locks: the second
// re-reads a row the first changed, finds it pending and leaves it, so
// each delivery is counted once.
const recoverDeliveries = `UPDATE deliveries SET state = 'pending', due_at = $1, finished_at = 0, retry_from = attempts,
	lease_owner = CASE WHEN lease_until >= $1 THEN lease_owner ELSE '' END,
	lease_until = CASE WHEN lease_until >= $1 THEN lease_until ELSE 0 END
	WHERE workspace_id = $2 AND state IN ('failed', 'discarded') AND created_at >= $3 AND created_at < $4
	RETURNING id, chat_id`

// holdBehindFlight makes the recovered deliveries $2 of a chat with a
// delivery in flight at $1 due when the last such lease ends, as SQLite
// must (see store/sqlite/recover.go), so that both stores answer alike.
// The claim here waits for the flight anyway, however long its lease is
// extended (claimChats).
const holdBehindFlight = `UPDATE deliveries d SET due_at = f.until
	FROM (SELECT chat_id, max(lease_until) AS until FROM deliveries
		WHERE chat_id = ANY($3) AND state = 'pending' AND lease_until > 0 AND lease_until >= $1 GROUP BY chat_id) f
	WHERE d.id = ANY($2) AND d.chat_id = f.chat_id AND d.lease_until < $1`

// Recover queues failed and discarded deliveries again; see
// store.Recovery.
func (s *Store) Recover(ctx context.Context, workspaceID string, since, until, now time.Time) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, recoverDeliveries, ms(now), workspaceID, ms(since), ms(until))
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		var ids, chats []int64
		var id, chat int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &chat}, func() error {
			ids, chats = append(ids, id), append(chats, chat)
			return nil
		}); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, holdBehindFlight, ms(now), ids, chats); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// RotateSecret replaces the signing secret, keeping the old one as the
// previous secret until until; see store.Recovery. One statement: a
// rotation at the same moment on another instance is ordered by the row's
// lock, and each sees the other's secret as the one it replaces.
func (s *Store) RotateSecret(ctx context.Context, workspaceID, secret string, now, until time.Time) (chathook.Webhook, error) {
	return scanWebhook(s.pool.QueryRow(ctx, `UPDATE webhooks
		SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3
		WHERE workspace_id = $4 RETURNING `+tables.WebhookColumns, ms(until), secret, ms(now), workspaceID))
}
