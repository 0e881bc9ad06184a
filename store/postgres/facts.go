package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RecordFacts records what sources tell about messages; see store.Facts.
// Instances may record facts of one message at once (a receipt
// redelivered to a second connection, Meta's POST resent to another
// instance): each fact takes its reply's row, then its message's, FOR
// UPDATE before it reads what they hold, so a status moves forward once
// and a reply is made sent once; a fact id is decided by fact_ids' unique
// key.
func (s *Store) RecordFacts(ctx context.Context, accountID int64, now time.Time, facts []chathook.Fact) ([]chathook.FactResult, bool, error) {
	var results []chathook.FactResult
	var queued bool
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		results, queued, err = recordFacts(ctx, tx, accountID, now, facts)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("record facts: %w", err)
	}
	return results, queued, nil
}

// recordFacts is RecordFacts' transaction, tx.
func recordFacts(ctx context.Context, tx pgx.Tx, accountID int64, now time.Time, facts []chathook.Fact) ([]chathook.FactResult, bool, error) {
	results := make([]chathook.FactResult, len(facts))
	r := recorder{tx: tx, account: accountID, now: now}
	if err := tx.QueryRow(ctx, `SELECT workspace_id FROM accounts WHERE id = $1`, accountID).Scan(&r.workspace); err != nil {
		return nil, false, noRows(err, chathook.ErrNotFound)
	}
	var err error
	if r.targets, err = readTargets(tx.Query(ctx, targetsForReply, r.workspace)); err != nil {
		return nil, false, fmt.Errorf("endpoints: %w", err)
	}
	for i, f := range facts {
		if err := tables.CheckFact(f); err != nil {
			return nil, false, fmt.Errorf("fact %d: %w", i, err)
		}
		if results[i], err = r.record(ctx, f); err != nil {
			return nil, false, fmt.Errorf("fact %d (%s of %s): %w", i, f.Kind, f.MessageID, err)
		}
	}
	return results, r.queued, nil
}

// recorder records the facts of one account in one transaction.
type recorder struct {
	tx        pgx.Tx
	workspace string
	account   int64
	now       time.Time
	targets   []tables.Target
	queued    bool // a delivery became due
}

// record records one fact, and queues its event unless it is a repeat.
func (r *recorder) record(ctx context.Context, f chathook.Fact) (chathook.FactResult, error) {
	var chatID int64
	err := r.tx.QueryRow(ctx, `SELECT id FROM chats WHERE account_id = $1 AND external_id IN ($2, $3)
		ORDER BY external_id = $2 DESC LIMIT 1`, r.account, f.Chat, f.ChatFormerID).Scan(&chatID)
	if errors.Is(err, pgx.ErrNoRows) {
		return chathook.FactNoChat, nil
	}
	if err != nil {
		return "", fmt.Errorf("chat: %w", err)
	}
	if f.ID != "" {
		tag, err := r.tx.Exec(ctx, `INSERT INTO fact_ids (account_id, fact_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, r.account, f.ID, ms(r.now))
		if err != nil {
			return "", fmt.Errorf("fact id: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return chathook.FactRepeat, nil
		}
	}
	at := ms(tables.FactAt(f, r.now))
	// What a fact tells of a reply comes first, its row taken before its
	// message's (as ReplySent does): any fact about one of chathook's
	// replies but a failed status shows WhatsApp has it, so a reply still
	// queued or uncertain is sent, and its message:sent:new goes before
	// the fact's event.
	if err := r.replyOf(ctx, f, at); err != nil {
		return "", err
	}
	applied := true
	var m tables.FactMessage
	var found bool
	if f.Kind == chathook.FactStatus {
		m, found, applied, err = r.status(ctx, f, at)
	} else {
		m, found, err = r.message(ctx, f.MessageID)
		if err == nil && found {
			applied, err = r.change(ctx, f, m, at)
		}
	}
	if err != nil || !applied {
		return chathook.FactRepeat, err
	}
	if found {
		chatID = m.ChatID
	}
	queued, data := tables.FactEvents(r.targets, chatID, r.account, m.UUID, f, r.now)
	r.queued = r.queued || len(queued) > 0
	return chathook.FactApplied, queueFixed(ctx, r.tx, r.workspace, chatID, queued, data, r.now)
}

// message reads, and locks, the account's message of WhatsApp's id.
func (r *recorder) message(ctx context.Context, messageID string) (tables.FactMessage, bool, error) {
	return r.messageWhere(ctx, "message_id", messageID)
}

// messageWhere reads, and locks, the account's message whose column
// (message_id or uuid) is value. FOR NO KEY UPDATE: deliveries that
// reference the message may be inserted meanwhile.
func (r *recorder) messageWhere(ctx context.Context, column, value string) (tables.FactMessage, bool, error) {
	m, err := tables.ScanFactMessage(r.tx.QueryRow(ctx, `SELECT `+tables.FactMessageColumns+` FROM messages
		WHERE account_id = $1 AND `+column+` = $2 FOR NO KEY UPDATE`, r.account, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("message: %w", err)
	}
	return m, true, nil
}

// status records a FactStatus: first what it tells of a reply, whose row
// it takes before its message's (as ReplySent does), then the message's
// status, forward only. applied is false for a repeat.
func (r *recorder) status(ctx context.Context, f chathook.Fact, at int64) (m tables.FactMessage, found, applied bool, err error) {
	m, found, err = r.message(ctx, f.MessageID)
	if err == nil && !found && f.ReplyID != "" {
		// A reply Meta never gave chathook a wamid of: its message still
		// has the reply's id as message_id, and as uuid.
		m, found, err = r.messageWhere(ctx, "uuid", f.ReplyID)
	}
	if err != nil || !found {
		return m, found, err == nil, err // a message chathook does not have: its status is always told
	}
	if !tables.Ahead(f.Status, m.Status) {
		return m, true, false, nil
	}
	if _, err := r.tx.Exec(ctx, `UPDATE messages SET status = $1, status_at = $2 WHERE id = $3`, f.Status, at, m.ID); err != nil {
		return m, true, false, fmt.Errorf("message status: %w", err)
	}
	return m, true, true, nil
}

// replyOf applies what f tells of one of chathook's replies, if it is
// about one: by f.ReplyID, else by its message's uuid.
func (r *recorder) replyOf(ctx context.Context, f chathook.Fact, at int64) error {
	replyID := f.ReplyID
	if replyID == "" {
		// A reply's message has the reply's id as its uuid.
		err := r.tx.QueryRow(ctx, `SELECT uuid FROM messages WHERE account_id = $1 AND message_id = $2 AND direction = 'sent'`,
			r.account, f.MessageID).Scan(&replyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
	}
	return r.reply(ctx, f, replyID, at)
}

// reply applies a status to the account's reply of id, if there is one:
// failed fails it once sent (or uncertain); any other status makes it
// sent, as f.MessageID, if it was queued, in doubt or uncertain. The
// reply's row is taken first, so a ReplySent at once either comes first
// (and this finds it sent) or waits and answers store.ErrNotOurs.
func (r *recorder) reply(ctx context.Context, f chathook.Fact, id string, at int64) error {
	var state chathook.ReplyState
	var chatID int64
	err := r.tx.QueryRow(ctx, `SELECT state, chat_id FROM replies WHERE id = $1 AND account_id = $2 FOR UPDATE`,
		id, r.account).Scan(&state, &chatID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	switch {
	case f.Status == chathook.StatusFailed && (state == chathook.ReplySent || state == chathook.ReplyUncertain):
		_, err = r.tx.Exec(ctx, `UPDATE replies SET state = 'failed', error = $1 WHERE id = $2`, f.Error, id)
		return err
	case f.Status != chathook.StatusFailed && (state == chathook.ReplyQueued || state == chathook.ReplyUncertain):
		if _, err := r.tx.Exec(ctx, `UPDATE replies SET state = 'sent', wa_id = $1, sent_at = $2, error = '',
				attempts = attempts + attempt_open::int, attempt_open = false, lease_owner = '', lease_until = 0 WHERE id = $3`,
			f.MessageID, at, id); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		queued, err := queueSent(ctx, r.tx, r.targets, r.workspace, chatID, r.account, id, f.MessageID, fromMS(at))
		r.queued = r.queued || queued
		return err
	}
	return nil
}

// change applies an edit, a delete or a reaction to message m; applied
// is false when it changes nothing.
func (r *recorder) change(ctx context.Context, f chathook.Fact, m tables.FactMessage, at int64) (applied bool, err error) {
	switch f.Kind {
	case chathook.FactEdited:
		if f.Text == m.Text {
			return false, nil
		}
		if _, err := r.tx.Exec(ctx, `INSERT INTO message_edits (message_id, text, at) VALUES ($1, $2, $3)`, m.ID, m.Text, at); err != nil {
			return false, fmt.Errorf("edit: %w", err)
		}
		_, err = r.tx.Exec(ctx, `UPDATE messages SET text = $1, words = $3::tsvector, edited = edited + 1 WHERE id = $2`,
			f.Text, m.ID, tsvector(f.Text)) // found by its current text
		return err == nil, err
	case chathook.FactDeleted:
		if m.DeletedAt != 0 {
			return false, nil
		}
		_, err = r.tx.Exec(ctx, `UPDATE messages SET deleted_at = $1 WHERE id = $2`, at, m.ID)
		return err == nil, err
	}
	var tag pgconn.CommandTag
	key := cmp.Or(f.SenderKey, f.Sender.Phone) // as the SQLite store keys a sender
	if f.Reaction == "" {
		tag, err = r.tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1 AND sender_key = $2`, m.ID, key)
	} else {
		tag, err = r.tx.Exec(ctx, `INSERT INTO reactions (message_id, sender_key, sender_name, sender_phone, reaction, at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (message_id, sender_key) DO UPDATE SET sender_name = excluded.sender_name,
				sender_phone = excluded.sender_phone, reaction = excluded.reaction, at = excluded.at
			WHERE reactions.reaction <> excluded.reaction`, m.ID, key, f.Sender.FullName, f.Sender.Phone, f.Reaction, at)
	}
	if err != nil {
		return false, fmt.Errorf("reaction: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	_, err = r.tx.Exec(ctx, `UPDATE messages SET reacted = (SELECT count(*) FROM reactions WHERE message_id = $1) WHERE id = $1`, m.ID)
	return err == nil, err
}

// BanAccount records a ban of a web account; see store.Accounts. The
// account's row is locked from the read of its state to the commit, as in
// SetAccountState, so of two bans at once one emails.
func (s *Store) BanAccount(ctx context.Context, accountID int64, until, now time.Time) (chathook.Account, error) {
	var a chathook.Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var announced string
		before, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+`, announced FROM accounts WHERE id = $1 FOR UPDATE`, accountID),
			&announced)
		if err != nil {
			return err
		}
		if before.Kind != chathook.KindWeb {
			return fmt.Errorf("account %d is not linked as a device: only those are banned for a while", accountID)
		}
		to := tables.BanMove(before.State)
		if to == "" {
			a = before
			return nil
		}
		untilMS := ms(until)
		if to != chathook.AccountBanned {
			untilMS = 0
		}
		if a, err = scanAccount(tx.QueryRow(ctx, `UPDATE accounts SET state = $1, state_until = $2, lease_owner = '', lease_until = 0
			WHERE id = $3 RETURNING `+accountColumns, to, untilMS, accountID)); err != nil {
			return err
		}
		if before.State == chathook.AccountBanned || to != chathook.AccountBanned {
			return nil // a repeat only moves until; a disconnect asked for tells nobody
		}
		if err := announce(ctx, tx, announced, a, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at)
			VALUES ($1, 'account_banned', $2, '', $3, $3)`, a.WorkspaceID, tables.AccountBannedReason(a, until), ms(now))
		return err
	})
	return a, err
}

// ReplyUncertain gives up a claimed reply whose attempt's end is
// unknown; see store.Replies.
func (s *Store) ReplyUncertain(ctx context.Context, owner, id, reason string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE replies SET state = 'uncertain', error = $1,
			attempts = attempts + 1, attempt_open = false, lease_owner = '', lease_until = 0
		WHERE id = $2 AND state = 'queued' AND lease_owner = $3`, reason, id, owner)
	if err != nil {
		return fmt.Errorf("reply uncertain: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotOurs
	}
	return nil
}

// loadEdits and loadReactions read the earlier texts and the reactions
// of the messages of a page that have any.
var (
	loadEdits     = tables.EditsOf(`= ANY($1)`)
	loadReactions = tables.ReactionsOf(`= ANY($1)`)
)

// fill reads what a page shows of msgs besides their rows: attachments,
// earlier texts and reactions, each with one query for the messages that
// have some (their counts, read with the rows, say which), and none when
// no message has any.
func fill(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, msgs []*chathook.Message) error {
	if err := attach(ctx, q, msgs); err != nil {
		return fmt.Errorf("attachments: %w", err)
	}
	for _, l := range []struct {
		ids  []int64
		sql  string
		fill func(tables.Rows, []*chathook.Message) error
	}{
		{tables.WithEdits(msgs), loadEdits, tables.FillEdits},
		{tables.WithReactions(msgs), loadReactions, tables.FillReactions},
	} {
		if len(l.ids) == 0 {
			continue
		}
		rows, err := q.Query(ctx, l.sql, l.ids)
		if err != nil {
			return err
		}
		err = l.fill(rows, msgs)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
