package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// recovering selects the failed and discarded deliveries of endpoint
// %[4]s of workspace %[1]s queued in [%[2]s, %[3]s), along
// deliveries_recoverable.
const recovering = `endpoint_id = (SELECT id FROM endpoints WHERE workspace_id = %[1]s AND public_id = %[4]s AND deleted_at = 0)
	AND state IN ('failed', 'discarded') AND created_at >= %[2]s AND created_at < %[3]s`

// lockRecoveredMessages locks, FOR SHARE, the messages with attachments
// of the deliveries Recover is to recover, in id order: a FinishDownload
// that is settling one of their attachments (it holds the message FOR NO
// KEY UPDATE) commits first, and recoverDeliveries, a later statement,
// sees what it settled; one that comes later waits for Recover, and then
// finds the delivery Recover held and releases it. Without it, Recover
// could hold a delivery for an attachment that was settled meanwhile,
// for good.
var lockRecoveredMessages = `SELECT id FROM messages
	WHERE id IN (SELECT message_id FROM deliveries WHERE ` + fmt.Sprintf(recovering, "$1", "$2", "$3", "$4") + `)
		AND attachments > 0 ORDER BY id FOR SHARE`

// recoverDeliveries makes the deliveries of recovering pending again,
// due at $1 (see store.Recovery.Recover); one whose message still has an
// attachment pending is held again (see store.Media). A lease still
// running (a discarded delivery whose POST is under way) is kept; an
// expired one is cleared. Two recoveries at once are ordered by the
// rows' locks: the second re-reads a row the first changed, finds it
// pending and leaves it, so each delivery is counted once.
var recoverDeliveries = `UPDATE deliveries SET state = 'pending', finished_at = 0, retry_from = attempts,
	due_at = CASE WHEN message_id IS NOT NULL AND EXISTS (
		SELECT 1 FROM attachments t WHERE t.message_id = deliveries.message_id AND t.state = 'pending')
		THEN ` + tables.SQLHeldDue + ` ELSE $1 END,
	lease_owner = CASE WHEN lease_until >= $1 THEN lease_owner ELSE '' END,
	lease_until = CASE WHEN lease_until >= $1 THEN lease_until ELSE 0 END
	WHERE ` + fmt.Sprintf(recovering, "$2", "$3", "$4", "$5")

// Recover queues failed and discarded deliveries again; see
// store.Recovery. A recovered delivery older than its lane's delivery in
// flight needs no hold here (SQLite's does), since claimLanes passes over
// a lane while any of its deliveries is in flight, however long that
// lease is extended.
func (s *Store) Recover(ctx context.Context, workspaceID, endpointID string, since, until, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		args := []any{workspaceID, ms(since), ms(until), endpointID}
		if _, err := tx.Exec(ctx, lockRecoveredMessages, args...); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, recoverDeliveries, append([]any{ms(now)}, args...)...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	return int(n), nil
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
