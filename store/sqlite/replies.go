package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// QueueReply stores a reply and its message in one write transaction;
// see store.Replies.
func (s *Store) QueueReply(ctx context.Context, r chathook.Reply, now time.Time) (chathook.Reply, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	var acc chathook.Account
	chat, err := scanChat(tx.QueryRowContext(ctx, `SELECT `+tables.ChatColumnsC+`, a.phone, a.full_name
		FROM chats c JOIN accounts a ON a.id = c.account_id WHERE c.id = ? AND c.workspace_id = ?`, r.ChatID, r.WorkspaceID),
		&acc.Phone, &acc.FullName)
	if err != nil {
		return r, err
	}
	r.AccountID, r.State, r.CreatedAt = chat.AccountID, chathook.ReplyQueued, now.UTC().Truncate(time.Millisecond)
	messageID, sender, recipient := tables.ReplyMessage(r, acc, chat)
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages
		(workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
		 sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat)
		VALUES (?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, ?, ?, ?, 0)`,
		r.WorkspaceID, r.AccountID, r.ChatID, messageID, r.ID, ms(now), ms(now),
		sender.FullName, sender.Phone, recipient.FullName, recipient.Phone, r.Text); err != nil {
		return r, fmt.Errorf("reply: message: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO replies
		(id, workspace_id, chat_id, account_id, wa_id, text, sent_by_name, sent_by_email, due_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.WorkspaceID, r.ChatID, r.AccountID, r.WAID, r.Text, r.SentBy.FullName, r.SentBy.Email, ms(now), ms(now)); err != nil {
		return r, fmt.Errorf("reply: %w", err)
	}
	return r, tx.Commit()
}

// Reply reads one reply of a chat of the workspace.
func (s *Store) Reply(ctx context.Context, workspaceID string, chatID int64, id string) (chathook.Reply, error) {
	r, err := tables.Reply(s.r.QueryRowContext(ctx, `SELECT `+tables.ReplyColumns+` FROM replies r
		WHERE r.id = ? AND r.workspace_id = ? AND r.chat_id = ?`, id, workspaceID, chatID))
	if errors.Is(err, sql.ErrNoRows) {
		err = chathook.ErrNotFound
	}
	return r, err
}

// ClaimReplies leases each claimable chat's oldest queued reply; see
// store.Replies. Through the one writer, so no two claimers see the same
// free reply.
func (s *Store) ClaimReplies(ctx context.Context, owner string, c store.ReplyClaim) ([]chathook.Outgoing, error) {
	// Senders look every second, and nearly always find nothing: a read
	// tells so without taking the one writer from ingest.
	var due bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM replies WHERE state = 'queued' AND due_at <= ?)`,
		ms(c.Now)).Scan(&due); err != nil || !due {
		return nil, err
	}
	web, err := json.Marshal(c.Web)
	if err != nil {
		return nil, err
	}
	// json_each('null') is one NULL, which no NOT IN passes.
	skip, err := json.Marshal(append([]int64{}, c.Skip...))
	if err != nil {
		return nil, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+tables.OutgoingColumns+`
		FROM replies r JOIN accounts a ON a.id = r.account_id JOIN chats c ON c.id = r.chat_id
		WHERE r.state = 'queued' AND r.due_at <= ?1 AND r.lease_until <= ?1
		  AND NOT EXISTS (SELECT 1 FROM replies e WHERE e.chat_id = r.chat_id AND e.state = 'queued'
		                  AND (e.created_at, e.id) < (r.created_at, r.id))
		  AND (a.kind = 'cloud_api' OR r.account_id IN (SELECT value FROM json_each(?2))
		       OR NOT (`+tables.WantsConnectionA+`) OR r.created_at < ?3)
		  AND r.account_id NOT IN (SELECT value FROM json_each(?5))
		ORDER BY r.created_at, r.id LIMIT ?4`, ms(c.Now), string(web), ms(c.Stale), c.Limit, string(skip))
	if err != nil {
		return nil, fmt.Errorf("claim replies: %w", err)
	}
	out, err := tables.All(rows, tables.Outgoing)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.ID
	}
	list, _ := json.Marshal(ids)
	if _, err := tx.ExecContext(ctx, `UPDATE replies SET lease_owner = ?, lease_until = ?, attempt_open = 1
		WHERE id IN (SELECT value FROM json_each(?))`, owner, ms(c.Until), string(list)); err != nil {
		return nil, fmt.Errorf("claim replies: %w", err)
	}
	return out, tx.Commit()
}

// ReplySent records a sent reply and queues its message; see
// store.Replies.
func (s *Store) ReplySent(ctx context.Context, owner, id, waID string, at time.Time) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var workspaceID string
	var chatID, accountID int64
	err = tx.QueryRowContext(ctx, `UPDATE replies SET state = 'sent', wa_id = ?, sent_at = ?, error = '',
			attempts = attempts + 1, attempt_open = 0, lease_owner = '', lease_until = 0
		WHERE id = ? AND state = 'queued' AND lease_owner = ? RETURNING workspace_id, chat_id, account_id`,
		waID, ms(at), id, owner).Scan(&workspaceID, &chatID, &accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, store.ErrNotOurs // not ours, or sent already
	}
	if err != nil {
		return false, fmt.Errorf("reply sent: %w", err)
	}
	targets, err := readTargets(tx.QueryContext(ctx, sqlIngestTarget, workspaceID))
	if err != nil {
		return false, fmt.Errorf("reply sent: endpoints: %w", err)
	}
	queued, err := queueSent(ctx, tx, targets, workspaceID, chatID, accountID, id, waID, at, true)
	if err != nil {
		return false, fmt.Errorf("reply sent: %w", err)
	}
	return queued, tx.Commit()
}

// queueSent makes the message of reply id, just recorded sent as waID at
// at, the chat's next live message and queues it for targets, and then,
// if status, its message:status "sent" (a status fact that sent it
// queues its own instead). It reports whether a delivery became due.
func queueSent(ctx context.Context, tx *sql.Tx, targets []tables.Target, workspaceID string, chatID, accountID int64,
	id, waID string, at time.Time, status bool) (bool, error) {
	var echo int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE account_id = ? AND message_id = ? AND uuid <> ?`,
		accountID, waID, id).Scan(&echo)
	switch {
	case err == nil:
		// WhatsApp's echo of it was stored (and queued) first, under
		// the wamid Meta had not yet told us: it is the message.
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE uuid = ?`, id); err != nil {
			return false, err
		}
		if !status {
			return false, nil
		}
		return queueSentStatus(ctx, tx, targets, workspaceID, chatID, accountID, waID, id, at)
	case !errors.Is(err, sql.ErrNoRows):
		return false, err
	}
	// The first live message of a chat that only history was in is the
	// receiver's first of it, as in ingest.
	var isNew bool
	if err := tx.QueryRowContext(ctx, `SELECT history_only FROM chats WHERE id = ?`, chatID).Scan(&isNew); err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	if isNew {
		if _, err := tx.ExecContext(ctx, `UPDATE chats SET history_only = 0, created_at = ? WHERE id = ?`, ms(at), chatID); err != nil {
			return false, fmt.Errorf("chat: %w", err)
		}
	}
	var messageRow int64
	if err := tx.QueryRowContext(ctx, `UPDATE messages SET message_id = ?, sent_at = ?, received_at = ?, is_new_chat = ?
		WHERE uuid = ? RETURNING id`, waID, ms(at), ms(at), isNew, id).Scan(&messageRow); err != nil {
		return false, fmt.Errorf("message: %w", err)
	}
	queued := false
	facts := tables.Stored{ChatID: chatID, AccountID: accountID, UUID: id, Direction: chathook.Sent, Live: true, NewChat: isNew}
	for _, q := range tables.FanOut(nil, targets, facts, tables.NewEventID) {
		if q.Bundle {
			_, err = tx.ExecContext(ctx, `INSERT INTO waiting (endpoint_id, chat_id, message_id, received_at) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, q.Target.Key, chatID, messageRow, ms(at))
		} else {
			queued = true
			_, err = tx.ExecContext(ctx, `INSERT INTO deliveries
				(workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, type, due_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, workspaceID, q.Target.Key, q.Lane, chatID, messageRow, q.EventID, q.Kind, q.Type,
				ms(at), ms(at))
		}
		if err != nil {
			return false, fmt.Errorf("delivery: %w", err)
		}
	}
	if !status {
		return queued, nil
	}
	sentStatus, err := queueSentStatus(ctx, tx, targets, workspaceID, chatID, accountID, waID, id, at)
	return queued || sentStatus, err
}

// queueSentStatus records the message waID of the account sent, unless a
// status came before, and queues its message:status "sent".
func queueSentStatus(ctx context.Context, tx *sql.Tx, targets []tables.Target, workspaceID string, chatID, accountID int64,
	waID, uuid string, at time.Time) (bool, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = 'sent', status_at = ? WHERE account_id = ? AND message_id = ? AND status = ''`,
		ms(at), accountID, waID); err != nil {
		return false, fmt.Errorf("message status: %w", err)
	}
	return queueStatus(ctx, tx, targets, workspaceID, chatID, accountID, waID, uuid, chathook.ReplySent, "", at)
}

// ReplyFailed records an attempt that did not get through; see
// store.Replies. The last one queues message:status (failed).
func (s *Store) ReplyFailed(ctx context.Context, owner, id, reason string, retryAt, at time.Time) error {
	state, due := chathook.ReplyQueued, ms(retryAt)
	if retryAt.IsZero() {
		state, due = chathook.ReplyFailed, ms(at)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var workspaceID, messageID string
	var chatID, accountID int64
	err = tx.QueryRowContext(ctx, `UPDATE replies SET state = ?, due_at = ?, error = ?,
			attempts = attempts + 1, attempt_open = 0, lease_owner = '', lease_until = 0
		WHERE id = ? AND state = 'queued' AND lease_owner = ?
		RETURNING workspace_id, chat_id, account_id, COALESCE((SELECT message_id FROM messages WHERE uuid = replies.id), replies.id)`,
		state, due, reason, id, owner).Scan(&workspaceID, &chatID, &accountID, &messageID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotOurs // not ours, or sent already
	}
	if err != nil {
		return err
	}
	if state == chathook.ReplyFailed {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = 'failed', status_at = ? WHERE uuid = ?`, ms(at), id); err != nil {
			return fmt.Errorf("reply failed: message status: %w", err)
		}
		targets, err := readTargets(tx.QueryContext(ctx, sqlIngestTarget, workspaceID))
		if err != nil {
			return fmt.Errorf("reply failed: endpoints: %w", err)
		}
		if _, err := queueStatus(ctx, tx, targets, workspaceID, chatID, accountID, messageID, id, chathook.ReplyFailed, reason, at); err != nil {
			return fmt.Errorf("reply failed: %w", err)
		}
	}
	return tx.Commit()
}

// queueStatus queues message:status of a message of a chat for those of
// targets (the workspace's, as sqlIngestTarget reads them) that take it,
// and reports whether it queued any.
func queueStatus(ctx context.Context, tx *sql.Tx, targets []tables.Target, workspaceID string, chatID, accountID int64,
	messageID, uuid string, status chathook.ReplyState, failure string, at time.Time) (bool, error) {
	queued, data := tables.StatusEvents(targets, chatID, accountID, messageID, uuid, string(status), failure, at)
	return len(queued) > 0, queueFixed(ctx, tx, workspaceID, chatID, queued, data, at)
}

// ReplyUncertain gives up owner's claimed reply whose attempt's end is
// unknown; see store.Replies. No status is told: it may have gone out.
func (s *Store) ReplyUncertain(ctx context.Context, owner, id, reason string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE replies SET state = ?, error = ?, due_at = ?,
			attempts = attempts + 1, attempt_open = 0, lease_owner = '', lease_until = 0
		WHERE id = ? AND state = 'queued' AND lease_owner = ?`, chathook.ReplyUncertain, reason, ms(at), id, owner)
	return ours(res, err, "reply uncertain")
}

// ReplyLater hands owner's claimed reply back unattempted, due at due;
// see store.Replies.
func (s *Store) ReplyLater(ctx context.Context, owner, id string, due time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE replies SET due_at = ?, attempt_open = 0, lease_owner = '', lease_until = 0
		WHERE id = ? AND state = 'queued' AND lease_owner = ?`, ms(due), id, owner)
	return ours(res, err, "reply later")
}

// ours answers store.ErrNotOurs for an update of a reply that changed
// no row.
func ours(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return store.ErrNotOurs
	}
	return nil
}
