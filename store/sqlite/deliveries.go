package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// sqlHeads walks the chats that have pending deliveries in chat id order,
// from after ?1 up to ?2, one index seek per chat (a loose index scan: the
// cost is the chats looked at, not the deliveries waiting behind them), and
// returns those whose oldest pending delivery is due at ?3 and not leased,
// of enabled webhooks with a URL: the chats that may send now. An earlier
// delivery holds back the rest of its chat while it is leased or waits for
// a retry, so only a chat's head decides.
const sqlHeads = `WITH RECURSIVE chats(c) AS (
    SELECT (SELECT min(chat_id) FROM deliveries WHERE state = 'pending' AND chat_id > ?1)
  UNION ALL
    SELECT (SELECT min(chat_id) FROM deliveries WHERE state = 'pending' AND chat_id > chats.c)
    FROM chats WHERE chats.c IS NOT NULL AND chats.c < ?2
)
SELECT h.chat_id FROM chats
JOIN deliveries h ON h.id = (SELECT min(id) FROM deliveries WHERE chat_id = chats.c AND state = 'pending')
JOIN webhooks w ON w.workspace_id = h.workspace_id
WHERE chats.c <= ?2 AND h.due_at <= ?3 AND h.lease_until < ?3 AND w.enabled = 1 AND w.url <> ''
LIMIT ?4`

// sqlRun reads the oldest pending deliveries of a chat.
const sqlRun = `SELECT id, due_at, lease_until FROM deliveries WHERE chat_id = ? AND state = 'pending' ORDER BY id LIMIT ?`

// deliveryColumns: a bundle has no message of its own (COALESCE fills in
// zeros); its messages are loaded with BundleMessages when it is sent.
const deliveryColumns = `
d.id, d.event_id, d.kind, d.attempts, d.messages, d.window_start, d.window_end, d.is_new_chat,
w.workspace_id, w.url, w.enabled, w.granularity, w.secret, w.consecutive_failures, w.disabled_reason,
a.id, a.phone, a.full_name, a.email,
c.id, c.external_id, c.full_name, c.is_group, c.phone, c.responsible_name, c.responsible_email, c.created_at,
COALESCE(m.id, 0), COALESCE(m.uuid, ''), COALESCE(m.message_id, ''), COALESCE(m.direction, ''),
COALESCE(m.sent_at, 0), COALESCE(m.received_at, 0), COALESCE(m.sender_name, ''), COALESCE(m.sender_phone, ''),
COALESCE(m.recipient_name, ''), COALESCE(m.recipient_phone, ''), COALESCE(m.text, ''), COALESCE(m.is_new_chat, 0)`

const (
	sqlLease        = `UPDATE deliveries SET lease_until = ?, lease_owner = ? WHERE id IN (SELECT value FROM json_each(?))`
	sqlExtendLeases = `UPDATE deliveries SET lease_until = ?
		WHERE lease_owner = ? AND state = 'pending' AND id IN (SELECT value FROM json_each(?))`
	sqlRelease = `UPDATE deliveries SET lease_until = 0, lease_owner = ''
		WHERE lease_owner = ? AND state = 'pending' AND id IN (SELECT value FROM json_each(?))`
	sqlLoadClaimed = `SELECT ` + deliveryColumns + `
		FROM deliveries d
		JOIN webhooks w ON w.workspace_id = d.workspace_id
		JOIN chats c ON c.id = d.chat_id
		JOIN accounts a ON a.id = c.account_id
		LEFT JOIN messages m ON m.id = d.message_id
		WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`
)

// ClaimDue leases due deliveries; see store.Store. Chats take turns: each
// claim goes on from the chat after the last one the previous claim took,
// round the chats in id order, so a chat with a deep backlog cannot starve
// the others. A claimed chat gives a run of its oldest deliveries, as many
// as are due, up to an even share of limit.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]chathook.Delivery, error) {
	tx, end, err := s.beginRelaxed(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	s.mu.Lock()
	cursor := s.cursor
	s.mu.Unlock()
	heads := s.prep(ctx, tx, sqlHeads)
	chats, err := chatIDs(heads.QueryContext(ctx, cursor, int64(math.MaxInt64), ms(now), limit))
	if err == nil && len(chats) < limit && cursor > 0 {
		var more []int64 // round again from the first chat
		more, err = chatIDs(heads.QueryContext(ctx, 0, cursor, ms(now), limit-len(chats)))
		chats = append(chats, more...)
	}
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(chats) == 0 {
		return nil, nil
	}
	share := (limit + len(chats) - 1) / len(chats)
	run := s.prep(ctx, tx, sqlRun)
	var ids []int64
	last := chats[len(chats)-1] // the last chat that gets a turn
	for i, chat := range chats {
		if len(ids) == limit {
			last = chats[i-1]
			break
		}
		if ids, err = appendRun(ctx, run, ids, chat, min(share, limit-len(ids)), ms(now)); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	list := idList(ids)
	if _, err := s.prep(ctx, tx, sqlLease).ExecContext(ctx, ms(now.Add(leaseFor)), owner, list); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	rows, err := s.prep(ctx, tx, sqlLoadClaimed).QueryContext(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("claim: load: %w", err)
	}
	defer rows.Close()
	out := make([]chathook.Delivery, 0, len(ids))
	for rows.Next() {
		var d chathook.Delivery
		var chatCreated, sentAt, receivedAt, windowStart, windowEnd int64
		m := &d.Message
		if err := rows.Scan(&d.ID, &d.EventID, &d.Kind, &d.Attempts, &d.Bundle.Count, &windowStart, &windowEnd, &d.Bundle.IsNewChat,
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
		if d.Kind == chathook.KindBundle {
			d.Bundle.WindowStart, d.Bundle.WindowEnd = fromMS(windowStart), fromMS(windowEnd)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cursor = last
	s.mu.Unlock()
	return out, nil
}

// appendRun appends to ids a chat's oldest pending deliveries, up to n,
// as long as they are due and not leased.
func appendRun(ctx context.Context, run *sql.Stmt, ids []int64, chat int64, n int, now int64) ([]int64, error) {
	rows, err := run.QueryContext(ctx, chat, n)
	if err != nil {
		return ids, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, due, lease int64
		if err := rows.Scan(&id, &due, &lease); err != nil {
			return ids, err
		}
		if due > now || lease >= now {
			break
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// chatIDs reads a column of ids.
func chatIDs(rows *sql.Rows, err error) ([]int64, error) {
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

// ExtendLeases keeps long-running claims from expiring.
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []int64, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.ws.get(sqlExtendLeases).ExecContext(ctx, ms(until), owner, idList(ids))
	return err
}

// Release gives back leases without an attempt.
func (s *Store) Release(ctx context.Context, owner string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.ws.get(sqlRelease).ExecContext(ctx, owner, idList(ids))
	return err
}

// Finish records attempt outcomes in one transaction; see store.Store.
func (s *Store) Finish(ctx context.Context, outcomes []store.Finished) error {
	if len(outcomes) == 0 {
		return nil
	}
	tx, end, err := s.beginRelaxed(ctx)
	if err != nil {
		return err
	}
	defer end()
	var f finishTx
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{{&f.update, sqlFinish}, {&f.log, sqlLogAttempt}, {&f.succeeded, sqlSucceeded}, {&f.failed, sqlFailed},
		{&f.disable, sqlDisable}, {&f.email, sqlQueueEmail}} {
		*p.st = s.prep(ctx, tx, p.query)
	}
	for _, o := range outcomes {
		if err := f.one(ctx, o); err != nil {
			return fmt.Errorf("finish delivery %d: %w", o.DeliveryID, err)
		}
	}
	return tx.Commit()
}

type finishTx struct {
	update, log, succeeded, failed, disable, email *sql.Stmt
}

const (
	sqlFinish = `UPDATE deliveries SET
		state = ?, attempts = attempts + 1, due_at = ?, finished_at = ?, last_status = ?, last_error = ?,
		last_attempt_at = ?, last_duration_ms = ?, lease_until = 0, lease_owner = ''
		WHERE id = ? RETURNING workspace_id, event_id, kind, chat_id, messages, attempts`
	sqlLogAttempt = `INSERT INTO attempts
		(workspace_id, delivery_id, event_id, kind, chat_id, messages, attempt, at, url, outcome, status, duration_ms, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlSucceeded = `UPDATE webhooks SET consecutive_failures = 0 WHERE workspace_id = ? AND consecutive_failures <> 0`
	sqlFailed    = `UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_error = ?
		WHERE workspace_id = ? RETURNING consecutive_failures, enabled`
	sqlDisable    = `UPDATE webhooks SET enabled = 0, disabled_reason = ?, disabled_at = ? WHERE workspace_id = ?`
	sqlQueueEmail = `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
		VALUES (?, 'webhook_disabled', ?, ?, ?, ?)`
)

func (f *finishTx) one(ctx context.Context, o store.Finished) error {
	state, due, finished, logged := chathook.StateDelivered, ms(o.At), ms(o.At), chathook.StateDelivered
	switch {
	case o.OK():
	case o.RetryAt.IsZero():
		state, logged = chathook.StateFailed, chathook.StateFailed
	default:
		state, due, finished, logged = chathook.StatePending, ms(o.RetryAt), 0, chathook.StateRetrying
	}
	var workspaceID string
	var a chathook.Attempt
	if err := f.update.QueryRowContext(ctx, state, due, finished, o.Status, o.Err, ms(o.At), o.Duration.Milliseconds(),
		o.DeliveryID).Scan(&workspaceID, &a.EventID, &a.Kind, &a.ChatID, &a.Messages, &a.Attempt); err != nil {
		return err
	}
	if _, err := f.log.ExecContext(ctx, workspaceID, o.DeliveryID, a.EventID, a.Kind, a.ChatID, a.Messages, a.Attempt,
		ms(o.At), o.URL, logged, o.Status, o.Duration.Milliseconds(), o.Err); err != nil {
		return fmt.Errorf("log attempt: %w", err)
	}
	if o.OK() {
		_, err := f.succeeded.ExecContext(ctx, workspaceID)
		return err
	}
	var failures int
	var enabled bool
	if err := f.failed.QueryRowContext(ctx, o.Err, workspaceID).Scan(&failures, &enabled); err != nil {
		return err
	}
	if failures < chathook.DisableAfter || !enabled {
		return nil
	}
	reason := fmt.Sprintf("disabled automatically after %d consecutive failed attempts", failures)
	if _, err := f.disable.ExecContext(ctx, reason, ms(o.At), workspaceID); err != nil {
		return err
	}
	// The email goes out with the disable or not at all: one per disable.
	_, err := f.email.ExecContext(ctx, workspaceID, reason, o.Err, ms(o.At), ms(o.At))
	return err
}
