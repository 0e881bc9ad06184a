package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// moveLatest makes message $3, sent at $2, chat $1's latest if it is
// later in timeline order than the chat's latest (or is it, resent at a
// new time): see insertMessages.
const moveLatest = `UPDATE chats SET last_sent_at = $2, last_message_id = $3
	WHERE id = $1 AND (last_message_id = $3 OR (last_sent_at, last_message_id) < ($2, $3))`

// QueueReply stores a reply and its message in one transaction; see
// store.Replies.
func (s *Store) QueueReply(ctx context.Context, r chathook.Reply, now time.Time) (chathook.Reply, error) {
	r.State, r.CreatedAt = chathook.ReplyQueued, now.UTC().Truncate(time.Millisecond)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var acc chathook.Account
		chat, err := scanChat(tx.QueryRow(ctx, `SELECT `+tables.ChatColumnsC+`, a.phone, a.full_name
			FROM chats c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1 AND c.workspace_id = $2`, r.ChatID, r.WorkspaceID),
			&acc.Phone, &acc.FullName)
		if err != nil {
			return err
		}
		r.AccountID = chat.AccountID
		messageID, sender, recipient := tables.ReplyMessage(r, acc, chat)
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO messages
			(workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
			 sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, words)
			VALUES ($1, $2, $3, $4, $5, 'sent', $6, $6, $7, $8, $9, $10, $11, false, $12::tsvector) RETURNING id`,
			r.WorkspaceID, r.AccountID, r.ChatID, messageID, r.ID, ms(now),
			sender.FullName, sender.Phone, recipient.FullName, recipient.Phone, r.Text, tsvector(r.Text)).Scan(&id); err != nil {
			return fmt.Errorf("reply: message: %w", err)
		}
		if _, err := tx.Exec(ctx, moveLatest, r.ChatID, ms(now), id); err != nil {
			return fmt.Errorf("reply: chat: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO replies
			(id, workspace_id, chat_id, account_id, wa_id, text, sent_by_name, sent_by_email, due_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			r.ID, r.WorkspaceID, r.ChatID, r.AccountID, r.WAID, r.Text, r.SentBy.FullName, r.SentBy.Email, ms(now)); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		return nil
	})
	return r, err
}

// Reply reads one reply of a chat of the workspace.
func (s *Store) Reply(ctx context.Context, workspaceID string, chatID int64, id string) (chathook.Reply, error) {
	r, err := tables.Reply(s.pool.QueryRow(ctx, `SELECT `+tables.ReplyColumns+` FROM replies r
		WHERE r.id = $1 AND r.workspace_id = $2 AND r.chat_id = $3`, id, workspaceID, chatID))
	return r, noRows(err, chathook.ErrNotFound)
}

// ClaimReplies leases each claimable chat's oldest queued reply; see
// store.Replies. SKIP LOCKED: instances claiming at once pass over each
// other's rows instead of waiting for them.
func (s *Store) ClaimReplies(ctx context.Context, owner string, c store.ReplyClaim) ([]chathook.Outgoing, error) {
	web, skip := c.Web, c.Skip
	if web == nil {
		web = []int64{}
	}
	if skip == nil {
		skip = []int64{}
	}
	var out []chathook.Outgoing
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tables.OutgoingColumns+`
			FROM replies r JOIN accounts a ON a.id = r.account_id JOIN chats c ON c.id = r.chat_id
			WHERE r.state = 'queued' AND r.due_at <= $1 AND r.lease_until <= $1
			  AND NOT EXISTS (SELECT 1 FROM replies e WHERE e.chat_id = r.chat_id AND e.state = 'queued'
			                  AND (e.created_at, e.id) < (r.created_at, r.id))
			  AND (a.kind = 'cloud_api' OR r.account_id = ANY($2) OR NOT (`+tables.WantsConnectionA+`) OR r.created_at < $3)
			  AND NOT (r.account_id = ANY($5))
			ORDER BY r.created_at, r.id LIMIT $4 FOR UPDATE OF r SKIP LOCKED`, ms(c.Now), web, ms(c.Stale), c.Limit, skip)
		if err != nil {
			return err
		}
		if out, err = tables.All(rows, tables.Outgoing); err != nil || len(out) == 0 {
			return err
		}
		ids := make([]string, len(out))
		for i, o := range out {
			ids[i] = o.ID
		}
		_, err = tx.Exec(ctx, `UPDATE replies SET lease_owner = $1, lease_until = $2, attempt_open = true WHERE id = ANY($3)`,
			owner, ms(c.Until), ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim replies: %w", err)
	}
	return out, nil
}

// ReplySent records a sent reply and queues its message; see
// store.Replies. The update takes the reply's row, so a status of it
// recorded at once (RecordFacts) waits, then finds it sent.
func (s *Store) ReplySent(ctx context.Context, owner, id, waID string, at time.Time) (bool, error) {
	var queued bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		queued = false
		var workspaceID string
		var chatID, accountID int64
		err := tx.QueryRow(ctx, `UPDATE replies SET state = 'sent', wa_id = $1, sent_at = $2, error = '',
				attempts = attempts + 1, attempt_open = false, lease_owner = '', lease_until = 0
			WHERE id = $3 AND state = 'queued' AND lease_owner = $4 RETURNING workspace_id, chat_id, account_id`,
			waID, ms(at), id, owner).Scan(&workspaceID, &chatID, &accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotOurs // not ours, or sent already
		}
		if err != nil {
			return err
		}
		// As an ingest does: the endpoints FOR KEY SHARE, so that a
		// change of granularity or a delete waits for this transaction
		// and finds the message.
		targets, err := readTargets(tx.Query(ctx, targetsForReply, workspaceID))
		if err != nil {
			return fmt.Errorf("endpoints: %w", err)
		}
		if queued, err = queueSent(ctx, tx, targets, workspaceID, chatID, accountID, id, waID, at); err != nil {
			return err
		}
		// Its message (or the echo that is it) is sent, unless a status
		// of it came first.
		if _, err := tx.Exec(ctx, `UPDATE messages SET status = 'sent', status_at = $1
			WHERE account_id = $2 AND message_id = $3 AND status = ''`, ms(at), accountID, waID); err != nil {
			return fmt.Errorf("message status: %w", err)
		}
		status, err := queueStatus(ctx, tx, targets, workspaceID, chatID, accountID, waID, id, chathook.ReplySent, "", at)
		queued = queued || status
		return err
	})
	if err != nil {
		return false, fmt.Errorf("reply sent: %w", err)
	}
	return queued, nil
}

// queueSent makes the message of reply id, marked sent (its row taken),
// WhatsApp's waID sent at at: its message takes waID as message_id and
// is queued for targets as an ingested message would be.
// It reports whether a delivery became due.
func queueSent(ctx context.Context, tx pgx.Tx, targets []tables.Target, workspaceID string, chatID, accountID int64,
	id, waID string, at time.Time) (queued bool, err error) {
	var echo int64
	err = tx.QueryRow(ctx, `SELECT id FROM messages WHERE account_id = $1 AND message_id = $2 AND uuid <> $3`,
		accountID, waID, id).Scan(&echo)
	switch {
	case err == nil:
		// WhatsApp's echo of it was stored (and queued) first, under
		// the wamid Meta had not yet told us: it is the message.
		var gone int64
		err = tx.QueryRow(ctx, `DELETE FROM messages WHERE uuid = $1 RETURNING id`, id).Scan(&gone)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		// The reply may have been its chat's latest: only then is the
		// latest read again, as SQLite's messages_last_gone does.
		_, err = tx.Exec(ctx, `UPDATE chats c SET (last_sent_at, last_message_id) = (SELECT sent_at, id FROM messages
			WHERE chat_id = c.id ORDER BY sent_at DESC, id DESC LIMIT 1) WHERE c.id = $1 AND c.last_message_id = $2`, chatID, gone)
		return false, err
	case !errors.Is(err, pgx.ErrNoRows):
		return false, err
	}
	// The first live message of a chat that only history was in is
	// the receiver's first of it, as in ingest.
	tag, err := tx.Exec(ctx, `UPDATE chats SET history_only = false, created_at = $1 WHERE id = $2 AND history_only`, ms(at), chatID)
	if err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	isNew := tag.RowsAffected() > 0
	var messageRow int64
	if err := tx.QueryRow(ctx, `UPDATE messages SET message_id = $1, sent_at = $2, received_at = $2, is_new_chat = $3
		WHERE uuid = $4 RETURNING id`, waID, ms(at), isNew, id).Scan(&messageRow); err != nil {
		return false, fmt.Errorf("message: %w", err)
	}
	if _, err := tx.Exec(ctx, moveLatest, chatID, ms(at), messageRow); err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	facts := tables.Stored{ChatID: chatID, AccountID: accountID, UUID: id, Direction: chathook.Sent, Live: true, NewChat: isNew}
	for _, q := range tables.FanOut(nil, targets, facts, tables.NewEventID) {
		if q.Bundle {
			_, err = tx.Exec(ctx, `INSERT INTO waiting (endpoint_id, chat_id, message_id, received_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, q.Target.Key, chatID, messageRow, ms(at))
		} else {
			queued = true
			_, err = tx.Exec(ctx, `INSERT INTO deliveries
				(workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, type, due_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`, workspaceID, q.Target.Key, q.Lane, chatID, messageRow,
				q.EventID, q.Kind, q.Type, ms(at))
		}
		if err != nil {
			return false, fmt.Errorf("delivery: %w", err)
		}
	}
	return queued, nil
}

// ReplyFailed records an attempt that did not get through; see
// store.Replies. The last one queues message:status (failed).
func (s *Store) ReplyFailed(ctx context.Context, owner, id, reason string, retryAt, at time.Time) error {
	state, due := chathook.ReplyQueued, ms(retryAt)
	if retryAt.IsZero() {
		state, due = chathook.ReplyFailed, ms(at)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var workspaceID, messageID string
		var chatID, accountID int64
		err := tx.QueryRow(ctx, `UPDATE replies SET state = $1, due_at = $2, error = $3,
				attempts = attempts + 1, attempt_open = false, lease_owner = '', lease_until = 0
			WHERE id = $4 AND state = 'queued' AND lease_owner = $5
			RETURNING workspace_id, chat_id, account_id, COALESCE((SELECT message_id FROM messages WHERE uuid = replies.id), replies.id)`,
			state, due, reason, id, owner).Scan(&workspaceID, &chatID, &accountID, &messageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotOurs // not ours, or sent already
		}
		if err != nil || state != chathook.ReplyFailed {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET status = 'failed', status_at = $1 WHERE uuid = $2`, ms(at), id); err != nil {
			return fmt.Errorf("message status: %w", err)
		}
		targets, err := readTargets(tx.Query(ctx, targetsForReply, workspaceID))
		if err != nil {
			return fmt.Errorf("status: endpoints: %w", err)
		}
		_, err = queueStatus(ctx, tx, targets, workspaceID, chatID, accountID, messageID, id, chathook.ReplyFailed, reason, at)
		return err
	})
}

// ReplyLater hands owner's claimed reply back unattempted, due at due;
// see store.Replies.
func (s *Store) ReplyLater(ctx context.Context, owner, id string, due time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE replies SET due_at = $1, attempt_open = false, lease_owner = '', lease_until = 0
		WHERE id = $2 AND state = 'queued' AND lease_owner = $3`, ms(due), id, owner)
	if err != nil {
		return fmt.Errorf("reply later: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotOurs
	}
	return nil
}
