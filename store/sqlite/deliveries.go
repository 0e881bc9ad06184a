package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// claimable selects, in ingest order, the pending deliveries that are due
// and not leased, of enabled webhooks with a URL, and that no earlier
// unfinished delivery of the same chat holds back. An earlier delivery
// holds a later one back while it is leased or waiting for a retry; one
// that is due and free is itself claimable, and because the selection is
// a prefix in id order it is claimed in the same batch, ahead of it.
const claimable = `
SELECT d.id FROM deliveries d JOIN webhooks w ON w.workspace_id = d.workspace_id
WHERE d.state = 'pending' AND d.due_at <= ?1 AND d.lease_until < ?1
  AND w.enabled = 1 AND w.url <> ''
  AND NOT EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.chat_id = d.chat_id AND e.state = 'pending' AND e.id < d.id
      AND (e.due_at > ?1 OR e.lease_until >= ?1))
ORDER BY d.id LIMIT ?2`

const deliveryColumns = `
d.id, d.event_id, d.attempts,
w.workspace_id, w.url, w.enabled, w.granularity, w.secret, w.consecutive_failures, w.disabled_reason,
a.id, a.phone, a.full_name, a.email,
c.id, c.external_id, c.full_name, c.is_group, c.phone, c.responsible_name, c.responsible_email, c.created_at,
m.id, m.uuid, m.message_id, m.direction, m.sent_at, m.received_at,
m.sender_name, m.sender_phone, m.recipient_name, m.recipient_phone, m.text, m.is_new_chat`

// ClaimDue leases due deliveries; see store.Store.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chathook.Delivery, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET lease_until = ?3, lease_owner = ?4
		WHERE id IN (`+claimable+`) RETURNING id`, ms(now), limit, ms(now.Add(lease)), owner)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := placeholders(ids)
	rows, err = tx.QueryContext(ctx, `SELECT `+deliveryColumns+`
		FROM deliveries d
		JOIN webhooks w ON w.workspace_id = d.workspace_id
		JOIN chats c ON c.id = d.chat_id
		JOIN accounts a ON a.id = c.account_id
		JOIN messages m ON m.id = d.message_id
		WHERE d.id IN (`+in+`) ORDER BY d.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim: load: %w", err)
	}
	defer rows.Close()
	out := make([]chathook.Delivery, 0, len(ids))
	for rows.Next() {
		var d chathook.Delivery
		var chatCreated, sentAt, receivedAt int64
		m := &d.Message
		if err := rows.Scan(&d.ID, &d.EventID, &d.Attempts,
			&d.Webhook.WorkspaceID, &d.Webhook.URL, &d.Webhook.Enabled, &d.Webhook.Granularity, &d.Webhook.Secret,
			&d.Webhook.ConsecutiveFailures, &d.Webhook.DisabledReason,
			&d.Account.ID, &d.Account.Phone, &d.Account.FullName, &d.Account.Email,
			&d.Chat.ID, &d.Chat.ExternalID, &d.Chat.FullName, &d.Chat.IsGroup, &d.Chat.Phone,
			&d.Chat.ResponsibleName, &d.Chat.ResponsibleEmail, &chatCreated,
			&m.ID, &m.UUID, &m.MessageID, &m.Direction, &sentAt, &receivedAt,
			&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat,
		); err != nil {
			return nil, err
		}
		d.Account.WorkspaceID, d.Chat.WorkspaceID = d.Webhook.WorkspaceID, d.Webhook.WorkspaceID
		d.Chat.AccountID = d.Account.ID
		d.Chat.CreatedAt, m.Timestamp, m.ReceivedAt = fromMS(chatCreated), fromMS(sentAt), fromMS(receivedAt)
		m.ChatID = d.Chat.ID
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, tx.Commit()
}

// ExtendLeases keeps long-running claims from expiring.
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := placeholders(ids)
	_, err := s.w.ExecContext(ctx, `UPDATE deliveries SET lease_until = ?
		WHERE lease_owner = ? AND state = 'pending' AND id IN (`+in+`)`, append([]any{ms(until), owner}, args...)...)
	return err
}

// Release gives back leases without an attempt.
func (s *Store) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := placeholders(ids)
	_, err := s.w.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = ''
		WHERE lease_owner = ? AND state = 'pending' AND id IN (`+in+`)`, append([]any{owner}, args...)...)
	return err
}

// Finish records attempt outcomes in one transaction.
func (s *Store) Finish(ctx context.Context, outcomes []store.Finished) error {
	if len(outcomes) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE deliveries SET
		state = ?, attempts = attempts + 1, due_at = ?, finished_at = ?, last_status = ?, last_error = ?,
		lease_until = 0, lease_owner = ''
		WHERE id = ?`)
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		state, due, finished := "delivered", ms(o.At), ms(o.At)
		switch {
		case o.OK():
		case o.RetryAt.IsZero():
			state = "failed"
		default:
			state, due, finished = "pending", ms(o.RetryAt), 0
		}
		if _, err := stmt.ExecContext(ctx, state, due, finished, o.Status, o.Err, o.DeliveryID); err != nil {
			return fmt.Errorf("finish delivery %d: %w", o.DeliveryID, err)
		}
	}
	return tx.Commit()
}
