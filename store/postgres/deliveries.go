package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/jackc/pgx/v5"
)

// Per-chat order across instances
//
// SQLite's claim ("take due deliveries that no earlier unfinished delivery
// of their chat holds back") is safe there because SQLite has one writer.
// In PostgreSQL, two claimers run at once, each on a snapshot that does
// not show the other's uncommitted leases: A leases d1 of chat X, B does
// not see it and leases d2 of X, and X's messages race each other.
//
// So a claim works chat by chat, and a chat's deliveries are only ever
// leased by a transaction that holds the chat's row lock:
//
//  1. claimChats picks the chats whose oldest pending delivery is due and
//     which have nothing in flight, oldest first, and locks their rows
//     FOR NO KEY UPDATE SKIP LOCKED: a chat another claimer is working on
//     is skipped, never waited for. (NO KEY: the lock does not block the
//     foreign-key checks of messages being ingested into the chat.)
//  2. claimRuns, a later statement of the same transaction, so on a
//     snapshot taken after the locks were granted, leases each locked
//     chat's head run: its deliveries in id order up to the first that is
//     not due, and only if none of the chat's deliveries is in flight.
//     A claimer that committed before our lock was granted is visible
//     here, so its leases stop us.
//
// ExtendLeases, the only other writer that sets a lease, takes the same
// chat locks, so it cannot revive an expired lease while another claimer
// takes the chat over. Every other writer only ends leases (Finish,
// Release) or removes deliveries from the queue (discard), which can
// never let a later delivery overtake an earlier one.
//
// Hence: at any moment at most one claimer holds leases on a chat's
// deliveries, and it holds a prefix of the chat's pending deliveries.

// claimChats locks up to $2 chats with work to do now ($1).
const claimChats = `
SELECT c.id FROM deliveries d
JOIN webhooks w ON w.workspace_id = d.workspace_id
JOIN chats c ON c.id = d.chat_id
WHERE d.state = 'pending' AND d.due_at <= $1 AND d.lease_until < $1
  AND w.enabled AND w.url <> ''
  AND NOT EXISTS (SELECT 1 FROM deliveries e
    WHERE e.chat_id = d.chat_id AND e.state = 'pending' AND e.id < d.id)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
    WHERE e.chat_id = d.chat_id AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $1)
ORDER BY d.id
LIMIT $2
FOR NO KEY UPDATE OF c SKIP LOCKED`

// claimRuns leases the head runs of the locked chats ($5), up to $2
// deliveries in id order, and returns them with what a payload needs.
const claimRuns = `
WITH claimed AS (
  UPDATE deliveries SET lease_until = $3, lease_owner = $4
  WHERE id IN (
    SELECT d.id FROM deliveries d
    WHERE d.chat_id = ANY($5) AND d.state = 'pending' AND d.due_at <= $1 AND d.lease_until < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries e
        WHERE e.chat_id = d.chat_id AND e.state = 'pending' AND e.id < d.id AND e.due_at > $1)
      AND NOT EXISTS (SELECT 1 FROM deliveries e
        WHERE e.chat_id = d.chat_id AND e.state = 'pending' AND e.lease_until > 0 AND e.lease_until >= $1)
    ORDER BY d.id
    LIMIT $2)
  AND state = 'pending' AND lease_until < $1
  RETURNING id
)
SELECT ` + deliveryColumns + `
FROM claimed
JOIN deliveries d ON d.id = claimed.id
JOIN webhooks w ON w.workspace_id = d.workspace_id
JOIN chats c ON c.id = d.chat_id
JOIN accounts a ON a.id = c.account_id
JOIN messages m ON m.id = d.message_id
ORDER BY d.id`

const deliveryColumns = `
d.id, d.event_id, d.attempts,
w.workspace_id, w.url, w.enabled, w.granularity, w.secret, w.consecutive_failures, w.disabled_reason,
a.id, a.phone, a.full_name, a.email,
c.id, c.external_id, c.full_name, c.is_group, c.phone, c.responsible_name, c.responsible_email, c.created_at,
m.id, m.uuid, m.message_id, m.direction, m.sent_at, m.received_at,
m.sender_name, m.sender_phone, m.recipient_name, m.recipient_phone, m.text, m.is_new_chat`

// ClaimDue leases due deliveries; see store.Store and the comment above.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chathook.Delivery, error) {
	var out []chathook.Delivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, claimChats, ms(now), limit)
		if err != nil {
			return fmt.Errorf("claim: lock chats: %w", err)
		}
		chats, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("claim: lock chats: %w", err)
		}
		if len(chats) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, claimRuns, ms(now), limit, ms(now.Add(lease)), owner, chats)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		out, err = pgx.CollectRows(rows, scanDelivery)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		return nil
	})
	return out, err
}

func scanDelivery(row pgx.CollectableRow) (chathook.Delivery, error) {
	var d chathook.Delivery
	var granularity, direction string
	var chatCreated, sentAt, receivedAt int64
	m := &d.Message
	if err := row.Scan(&d.ID, &d.EventID, &d.Attempts,
		&d.Webhook.WorkspaceID, &d.Webhook.URL, &d.Webhook.Enabled, &granularity, &d.Webhook.Secret,
		&d.Webhook.ConsecutiveFailures, &d.Webhook.DisabledReason,
		&d.Account.ID, &d.Account.Phone, &d.Account.FullName, &d.Account.Email,
		&d.Chat.ID, &d.Chat.ExternalID, &d.Chat.FullName, &d.Chat.IsGroup, &d.Chat.Phone,
		&d.Chat.ResponsibleName, &d.Chat.ResponsibleEmail, &chatCreated,
		&m.ID, &m.UUID, &m.MessageID, &direction, &sentAt, &receivedAt,
		&m.Sender.FullName, &m.Sender.Phone, &m.Recipient.FullName, &m.Recipient.Phone, &m.Text, &m.IsNewChat,
	); err != nil {
		return d, err
	}
	d.Webhook.Granularity, m.Direction = chathook.Granularity(granularity), chathook.Direction(direction)
	d.Account.WorkspaceID, d.Chat.WorkspaceID = d.Webhook.WorkspaceID, d.Webhook.WorkspaceID
	d.Chat.AccountID = d.Account.ID
	d.Chat.CreatedAt, m.Timestamp, m.ReceivedAt = fromMS(chatCreated), fromMS(sentAt), fromMS(receivedAt)
	m.ChatID = d.Chat.ID
	return d, nil
}

// ExtendLeases keeps long-running claims from expiring. It takes the
// locks of the deliveries' chats first (in id order, so two extenders
// never deadlock), like a claim: an expired lease that another claimer is
// taking over at this moment is either taken over first (and then no
// longer ours to extend) or extended first (and then not taken over).
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM chats
			WHERE id IN (SELECT chat_id FROM deliveries WHERE id = ANY($1)) ORDER BY id FOR NO KEY UPDATE`, ids); err != nil {
			return fmt.Errorf("extend leases: lock chats: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE deliveries SET lease_until = $1
			WHERE lease_owner = $2 AND state = 'pending' AND id = ANY($3)`, ms(until), owner, ids)
		return err
	})
}

// Release gives back leases without an attempt. Ending a lease needs no
// chat lock: it can only let the chat's next claim start sooner.
func (s *Store) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = ''
		WHERE lease_owner = $1 AND state = 'pending' AND id = ANY($2)`, owner, ids)
	return err
}
