package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// RecordFacts records an account's facts in one write transaction, each
// with its event; see store.Facts.
func (s *Store) RecordFacts(ctx context.Context, accountID int64, now time.Time, facts []chathook.Fact) ([]chathook.FactResult, bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	var workspaceID string
	if err := tx.QueryRowContext(ctx, `SELECT workspace_id FROM accounts WHERE id = ?`, accountID).Scan(&workspaceID); err != nil {
		return nil, false, fmt.Errorf("facts: account %d: %w", accountID, notFound(err))
	}
	targets, err := readTargets(tx.QueryContext(ctx, sqlIngestTarget, workspaceID))
	if err != nil {
		return nil, false, fmt.Errorf("facts: endpoints: %w", err)
	}
	r := &factRecorder{tx: tx, workspaceID: workspaceID, accountID: accountID, now: now, targets: targets, chats: map[string]int64{}}
	results := make([]chathook.FactResult, len(facts))
	for i, f := range facts {
		if err := tables.CheckFact(f); err != nil {
			return nil, false, fmt.Errorf("fact %d: %w", i, err)
		}
		if results[i], err = r.record(ctx, f); err != nil {
			return nil, false, fmt.Errorf("fact %d (%s of %s): %w", i, f.Kind, f.MessageID, err)
		}
	}
	return results, r.queued, tx.Commit()
}

// factRecorder records the facts of one account in one transaction.
type factRecorder struct {
	tx          *sql.Tx
	workspaceID string
	accountID   int64
	now         time.Time
	targets     []tables.Target
	chats       map[string]int64 // by external id; 0: none
	queued      bool             // a delivery became due
}

// chat finds the chat of a fact by its external id, else its former one;
// 0 when the account has neither.
func (r *factRecorder) chat(ctx context.Context, f chathook.Fact) (int64, error) {
	for _, ext := range []string{f.Chat, f.ChatFormerID} {
		if ext == "" {
			continue
		}
		id, seen := r.chats[ext]
		if !seen {
			err := r.tx.QueryRowContext(ctx, `SELECT id FROM chats WHERE account_id = ? AND external_id = ?`, r.accountID, ext).Scan(&id)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, fmt.Errorf("chat: %w", err)
			}
			r.chats[ext] = id
		}
		if id != 0 {
			return id, nil
		}
	}
	return 0, nil
}

// message reads the account's message of WhatsApp's id; ok false when
// chathook does not have it.
func (r *factRecorder) message(ctx context.Context, messageID string) (tables.FactMessage, bool, error) {
	return r.messageWhere(ctx, "message_id", messageID)
}

// messageWhere reads the account's message whose column (message_id or
// uuid) is value.
func (r *factRecorder) messageWhere(ctx context.Context, column, value string) (m tables.FactMessage, ok bool, err error) {
	m, err = tables.ScanFactMessage(r.tx.QueryRowContext(ctx, `SELECT `+tables.FactMessageColumns+` FROM messages
		WHERE account_id = ? AND `+column+` = ?`, r.accountID, value))
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	return m, err == nil, err
}

// record records one fact and queues its event.
func (r *factRecorder) record(ctx context.Context, f chathook.Fact) (chathook.FactResult, error) {
	chatID, err := r.chat(ctx, f)
	if err != nil || chatID == 0 {
		return chathook.FactNoChat, err
	}
	if f.ID != "" {
		res, err := r.tx.ExecContext(ctx, `INSERT INTO fact_ids (account_id, fact_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, r.accountID, f.ID, ms(r.now))
		if err != nil {
			return "", fmt.Errorf("fact id: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return chathook.FactRepeat, err
		}
	}
	m, found, err := r.message(ctx, f.MessageID)
	if err != nil {
		return "", err
	}
	failed := f.Kind == chathook.FactStatus && f.Status == chathook.StatusFailed
	if failed && !found && f.ReplyID != "" {
		// A reply Meta never gave chathook a wamid of: its message still
		// has the reply's id as message_id, and as uuid.
		if m, found, err = r.messageWhere(ctx, "uuid", f.ReplyID); err != nil {
			return "", err
		}
	}
	if !failed {
		// Any fact about one of chathook's replies but a failed status
		// shows WhatsApp has it: a reply still queued or uncertain is
		// sent, and its message:sent:new goes before the fact's event. A
		// reply's message has the reply's id as its uuid.
		if id := cmp.Or(f.ReplyID, m.UUID); id != "" {
			sent, err := r.sendReply(ctx, f, id)
			if err != nil {
				return "", err
			}
			if sent { // its message now has the fact's id
				if m, found, err = r.message(ctx, f.MessageID); err != nil {
					return "", err
				}
			}
		}
	}
	if found {
		chatID = m.ChatID // its lane, behind its own delivery
		applied, err := r.apply(ctx, f, m)
		if err != nil || !applied {
			return chathook.FactRepeat, err
		}
	}
	queued, data := tables.FactEvents(r.targets, chatID, r.accountID, m.UUID, f, r.now)
	if err := queueFixed(ctx, r.tx, r.workspaceID, chatID, queued, data, r.now); err != nil {
		return "", err
	}
	r.queued = r.queued || len(queued) > 0
	return chathook.FactApplied, nil
}

// apply writes fact f to its message m, and reports whether it changed
// anything: false for a repeat.
func (r *factRecorder) apply(ctx context.Context, f chathook.Fact, m tables.FactMessage) (bool, error) {
	at := ms(tables.FactAt(f, r.now))
	switch f.Kind {
	case chathook.FactStatus:
		if !tables.Ahead(f.Status, m.Status) {
			return false, nil
		}
		if _, err := r.tx.ExecContext(ctx, `UPDATE messages SET status = ?, status_at = ? WHERE id = ?`, f.Status, at, m.ID); err != nil {
			return false, fmt.Errorf("status: %w", err)
		}
		if f.Status == chathook.StatusFailed {
			// A reply WhatsApp took (or may have), then could not deliver.
			if _, err := r.tx.ExecContext(ctx, `UPDATE replies SET state = ?, error = ? WHERE id = ? AND state IN (?, ?)`,
				chathook.ReplyFailed, f.Error, m.UUID, chathook.ReplySent, chathook.ReplyUncertain); err != nil {
				return false, fmt.Errorf("status: reply: %w", err)
			}
		}
	case chathook.FactEdited:
		if f.Text == m.Text {
			return false, nil
		}
		if _, err := r.tx.ExecContext(ctx, `INSERT INTO message_edits (message_id, text, at) VALUES (?, ?, ?)`, m.ID, m.Text, at); err != nil {
			return false, fmt.Errorf("edit: %w", err)
		}
		if _, err := r.tx.ExecContext(ctx, `UPDATE messages SET text = ?, edited = edited + 1 WHERE id = ?`, f.Text, m.ID); err != nil {
			return false, fmt.Errorf("edit: %w", err)
		}
	case chathook.FactDeleted:
		if m.DeletedAt != 0 {
			return false, nil
		}
		if _, err := r.tx.ExecContext(ctx, `UPDATE messages SET deleted_at = ? WHERE id = ?`, at, m.ID); err != nil {
			return false, fmt.Errorf("delete: %w", err)
		}
	case chathook.FactReaction:
		return r.react(ctx, f, m.ID, at)
	default:
		return false, fmt.Errorf("unknown kind %q", f.Kind)
	}
	return true, nil
}

// react sets, or takes back, a sender's reaction to message row id.
func (r *factRecorder) react(ctx context.Context, f chathook.Fact, id, at int64) (bool, error) {
	key := cmp.Or(f.SenderKey, f.Sender.Phone)
	var before string
	err := r.tx.QueryRowContext(ctx, `SELECT reaction FROM reactions WHERE message_id = ? AND sender_key = ?`, id, key).Scan(&before)
	had := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("reaction: %w", err)
	}
	switch {
	case f.Reaction == "" && !had, had && f.Reaction == before:
		return false, nil
	case f.Reaction == "":
		if _, err := r.tx.ExecContext(ctx, `DELETE FROM reactions WHERE message_id = ? AND sender_key = ?`, id, key); err != nil {
			return false, fmt.Errorf("reaction: %w", err)
		}
		_, err = r.tx.ExecContext(ctx, `UPDATE messages SET reacted = reacted - 1 WHERE id = ?`, id)
	default:
		if _, err := r.tx.ExecContext(ctx, `INSERT INTO reactions (message_id, sender_key, sender_name, sender_phone, reaction, at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (message_id, sender_key) DO UPDATE SET sender_name = excluded.sender_name,
				sender_phone = excluded.sender_phone, reaction = excluded.reaction, at = excluded.at`,
			id, key, f.Sender.FullName, f.Sender.Phone, f.Reaction, at); err != nil {
			return false, fmt.Errorf("reaction: %w", err)
		}
		if !had {
			_, err = r.tx.ExecContext(ctx, `UPDATE messages SET reacted = reacted + 1 WHERE id = ?`, id)
		}
	}
	if err != nil {
		return false, fmt.Errorf("reaction: %w", err)
	}
	return true, nil
}

// sendReply marks reply id sent, as the fact's MessageID, if it is still
// queued (in doubt or not) or uncertain, as ReplySent would: its message
// takes the fact's id and is queued for delivery, before the status. The
// state check in the UPDATE, on the one writer, makes it once: a
// ReplySent after it answers store.ErrNotOurs, one before it leaves the
// reply sent, and this nothing to do. It reports whether it sent it.
func (r *factRecorder) sendReply(ctx context.Context, f chathook.Fact, id string) (bool, error) {
	at := tables.FactAt(f, r.now)
	var chatID int64
	err := r.tx.QueryRowContext(ctx, `UPDATE replies SET state = ?, wa_id = ?, sent_at = ?, error = '',
			attempts = attempts + attempt_open, attempt_open = 0, lease_owner = '', lease_until = 0
		WHERE id = ? AND account_id = ? AND state IN (?, ?) RETURNING chat_id`,
		chathook.ReplySent, f.MessageID, ms(at), id, r.accountID, chathook.ReplyQueued, chathook.ReplyUncertain).Scan(&chatID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // no reply, or one sent or failed already
	}
	if err != nil {
		return false, fmt.Errorf("reply: %w", err)
	}
	queued, err := queueSent(ctx, r.tx, r.targets, r.workspaceID, chatID, r.accountID, id, f.MessageID, at, false)
	if err != nil {
		return false, fmt.Errorf("reply: %w", err)
	}
	r.queued = r.queued || queued
	return true, nil
}
