package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// recoverDeliveries makes the failed and discarded deliveries of
// endpoint $5 of workspace $2 queued in [$3, $4) pending again, due at $1 (see store.Recovery.Recover),
// found along deliveries_recoverable. A lease still running (a discarded
// delivery whose POST is under way) is kept; an expired one is cleared.
// Two recoveries at once are ordered by the rows' locks: the second
// re-reads a row the first changed, finds it pending and leaves it, so
// each delivery is counted once.
const recoverDeliveries = `UPDATE deliveries SET state = 'pending', due_at = $1, finished_at = 0, retry_from = attempts,
	lease_owner = CASE WHEN lease_until >= $1 THEN lease_owner ELSE '' END,
	lease_until = CASE WHEN lease_until >= $1 THEN lease_until ELSE 0 END
	WHERE endpoint_id = (SELECT id FROM endpoints WHERE workspace_id = $2 AND public_id = $5 AND deleted_at = 0)
		AND state IN ('failed', 'discarded') AND created_at >= $3 AND created_at < $4`

// Recover queues failed and discarded deliveries again; see
// store.Recovery. One statement: a recovered delivery older than its
// lane's delivery in flight needs no hold here (SQLite's does), since
// claimLanes passes over a lane while any of its deliveries is in flight,
// however long that lease is extended.
func (s *Store) Recover(ctx context.Context, workspaceID, endpointID string, since, until, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, recoverDeliveries, ms(now), workspaceID, ms(since), ms(until), endpointID)
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// RotateSecret replaces the signing secret, keeping the old one as the
// previous secret until until; see store.Recovery. One statement: a
// rotation at the same moment on another instance is ordered by the row's
// lock, and each sees the other's secret as the one it replaces.
func (s *Store) RotateSecret(ctx context.Context, workspaceID, endpointID, secret string, now, until time.Time) (chathook.Webhook, error) {
	return scanWebhook(s.pool.QueryRow(ctx, `UPDATE endpoints
		SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3
		WHERE workspace_id = $4 AND public_id = $5 AND deleted_at = 0 RETURNING `+tables.WebhookColumns,
		ms(until), secret, ms(now), workspaceID, endpointID))
}
