package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// sqlRecover makes a workspace's failed and discarded deliveries queued in
// [?3, ?4) pending again, due at ?1 (see store.Recovery.Recover), found
// along deliveries_recoverable. A lease still running (?1: a discarded
// delivery whose POST is under way) is kept; an expired one is cleared.
// One whose message still has an attachment pending is held again (see
// store.Media), one index seek on attachments_message.
const sqlRecover = `UPDATE deliveries SET state = 'pending', finished_at = 0, retry_from = attempts,
	due_at = CASE WHEN message_id IS NOT NULL AND EXISTS (
		SELECT 1 FROM attachments t WHERE t.message_id = deliveries.message_id AND t.state = 'pending')
		THEN ` + tables.SQLHeldDue + ` ELSE ?1 END,
	lease_owner = CASE WHEN lease_until >= ?1 THEN lease_owner ELSE '' END,
	lease_until = CASE WHEN lease_until >= ?1 THEN lease_until ELSE 0 END
	WHERE endpoint_id = (SELECT id FROM endpoints WHERE workspace_id = ?2 AND public_id = ?5 AND deleted_at = 0)
		AND state IN ('failed', 'discarded') AND created_at >= ?3 AND created_at < ?4
	RETURNING id`

// sqlHoldBehindFlight makes the recovered deliveries ?2 (a JSON array) of
// a chat with a delivery in flight at ?1 due when the last such lease
// ends, not now. SQLite's claim looks at a chat's oldest pending delivery
// only, so a recovered one, older than what is in flight, would otherwise
// be claimed beside it; ExtendLeases pushes that due time along with the
// lease (sqlHoldRecovered) for as long as the flight goes on. One held
// for its attachments stays held.
const sqlHoldBehindFlight = `UPDATE deliveries SET due_at = (
		SELECT max(e.lease_until) FROM deliveries e
		WHERE e.lane = deliveries.lane AND e.state = 'pending' AND e.lease_until >= ?1)
	WHERE id IN (SELECT value FROM json_each(?2)) AND lease_until < ?1 AND due_at <> ` + tables.SQLHeldDue + ` AND EXISTS (
		SELECT 1 FROM deliveries e
		WHERE e.lane = deliveries.lane AND e.state = 'pending' AND e.lease_until >= ?1)`

// Recover queues failed and discarded deliveries again; see
// store.Recovery.
func (s *Store) Recover(ctx context.Context, workspaceID, endpointID string, since, until, now time.Time) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, sqlRecover, ms(now), workspaceID, ms(since), ms(until), endpointID)
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// A discarded delivery in flight kept its lease: the others of its
	// chat wait for it too.
	if _, err := tx.ExecContext(ctx, sqlHoldBehindFlight, ms(now), idList(ids)); err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	return len(ids), tx.Commit()
}

// RotateSecret replaces the signing secret, keeping the old one as the
// previous secret until until; see store.Recovery.
func (s *Store) RotateSecret(ctx context.Context, workspaceID, endpointID, secret string, now, until time.Time) (chathook.Webhook, error) {
	return scanWebhook(s.w.QueryRowContext(ctx, `UPDATE endpoints
		SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
		WHERE workspace_id = ? AND public_id = ? AND deleted_at = 0 RETURNING `+tables.WebhookColumns,
		ms(until), secret, ms(now), workspaceID, endpointID))
}
