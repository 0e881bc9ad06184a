package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/group"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Reasons given back with a non-accepted answer (the same words as SQLite's).
const (
	reasonDuplicate = "a message with this message_id was already received for this account"
)

// insertMessage stores one message and, when $17 is true, its pending
// delivery, in one statement ($20: the message waits for a bundle
// instead); it returns the message's id, or no row when
// (account, message_id) is already taken. When another transaction holds
// the same key uncommitted, PostgreSQL waits for it: if it commits, this
// one is a duplicate; if it rolls back, this one is stored. So concurrent
// duplicates, on any number of instances, yield exactly one message.
const insertMessage = `WITH m AS (
	INSERT INTO messages (id, workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
		sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, skip_reason, pending)
	VALUES ($18, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $20)
	ON CONFLICT (account_id, message_id) DO NOTHING RETURNING id
), d AS (
	INSERT INTO deliveries (id, workspace_id, chat_id, message_id, event_id, due_at, created_at)
	SELECT $19, $1, $3, id, $16, $8, $8 FROM m WHERE $17
)
SELECT id FROM m`

// newIDs reserves ids for a batch's messages and deliveries, ascending in
// the order they are handed out.
const newIDs = `SELECT nextval(pg_get_serial_sequence('messages', 'id')), nextval(pg_get_serial_sequence('deliveries', 'id'))
FROM generate_series(1, $1)`

// ingestTx is one Ingest transaction, with the accounts and chats it has
// seen, so that a batch of 1000 messages in one chat reads that chat once.
type ingestTx struct {
	tx          pgx.Tx
	workspaceID string
	now         int64
	accounts    map[string]chathook.Account
	chats       map[chatKey]chathook.Chat
	// historyOnly holds the chats of the batch that only history
	// messages are in so far; historyKeys the history messages of the
	// batch (nil until one comes), so that a live copy of one of them
	// is known for a duplicate before it is written.
	historyOnly map[int64]bool
	historyKeys map[messageKey]bool
}

type messageKey struct {
	account   int64
	messageID string
}

// insert is one message's insertMessage, and where it is in the batch.
type insert struct {
	index     int
	account   int64
	messageID string
	args      []any
}

type chatKey struct {
	account    int64
	externalID string
}

// Ingest stores msgs in one transaction; see store.Store. Accounts and
// chats are resolved one message after the other, as in SQLite, then the
// messages and deliveries are written in one round trip (a pipeline).
//
// The rows get ids reserved beforehand in batch order, which is the order
// the dispatcher keeps per chat, but are inserted in (account, message_id)
// order: every batch takes the unique-key locks of its messages in the
// same global order, so batches that share messages (a source retrying,
// two instances given the same messages) wait for each other and never
// deadlock.
func (s *Store) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	return s.group.Ingest(ctx, workspaceID, now, msgs)
}

// commitGroup writes a group's batches (see package group) in one
// transaction. The batches come in workspace order, and a workspace's
// accounts are its own, so a group takes its message keys' locks in
// (workspace, account, message_id) order: the same global order as
// every other group or lone batch.
func (s *Store) commitGroup(ctx context.Context, batches []group.Batch) ([][]chathook.IngestResult, error) {
	results := make([][]chathook.IngestResult, len(batches))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for i, b := range batches {
			r, err := ingestBatch(ctx, tx, b.WorkspaceID, b.Now, b.Msgs)
			if err != nil {
				return err
			}
			results[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// ingestBatch writes one workspace's messages in tx.
func ingestBatch(ctx context.Context, tx pgx.Tx, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	var results []chathook.IngestResult
	err := func() error {
		// Deliveries are queued from the moment a webhook URL is set; a
		// disabled webhook still queues: it is paused, not off. With a
		// granularity, a message waits for its window's bundle instead.
		// FOR KEY SHARE: a change of granularity (UpdateWebhook, FOR
		// UPDATE) waits for this batch, so a switch to none finds its
		// waiting messages; ingests do not wait for one another.
		var hasURL bool
		var g chathook.Granularity
		if err := tx.QueryRow(ctx, `SELECT url <> '', granularity FROM webhooks WHERE workspace_id = $1 FOR KEY SHARE`,
			workspaceID).Scan(&hasURL, &g); err != nil {
			return fmt.Errorf("ingest: webhook of %s: %w", workspaceID, err)
		}
		single, bundled := hasURL && g == chathook.NoAggregation, hasURL && g != chathook.NoAggregation
		it := &ingestTx{tx: tx, workspaceID: workspaceID, now: ms(now),
			accounts: map[string]chathook.Account{}, chats: map[chatKey]chathook.Chat{}, historyOnly: map[int64]bool{}}
		if err := it.prefetch(ctx, msgs); err != nil {
			return err
		}
		results = make([]chathook.IngestResult, len(msgs))
		accounts := make([]int64, len(msgs))
		rows, err := tx.Query(ctx, newIDs, len(msgs))
		if err != nil {
			return fmt.Errorf("ingest: reserve ids: %w", err)
		}
		var messageIDs, deliveryIDs []int64
		var m, d int64
		if _, err := pgx.ForEachRow(rows, []any{&m, &d}, func() error {
			messageIDs, deliveryIDs = append(messageIDs, m), append(deliveryIDs, d)
			return nil
		}); err != nil {
			return fmt.Errorf("ingest: reserve ids: %w", err)
		}
		slices.Sort(messageIDs)
		slices.Sort(deliveryIDs)
		inserts := make([]insert, len(msgs))
		for i := range msgs {
			in := &msgs[i]
			acc, err := it.account(ctx, in.Account)
			if err != nil {
				return fmt.Errorf("ingest message %d: %w", i, err)
			}
			key := messageKey{acc.ID, in.MessageID}
			chat, isNew, err := it.chat(ctx, acc, in, key)
			if err != nil {
				return fmt.Errorf("ingest message %d: %w", i, err)
			}
			if in.History {
				if it.historyKeys == nil {
					it.historyKeys = map[messageKey]bool{}
				}
				it.historyKeys[key] = true
			}
			live := in.SkipReason == "" && !in.History // a history message is stored, never delivered
			accounts[i] = acc.ID
			results[i] = chathook.IngestResult{Status: chathook.Accepted, ChatID: chat.ID}
			if in.SkipReason != "" {
				results[i] = chathook.IngestResult{Status: chathook.Skipped, ChatID: chat.ID, Reason: in.SkipReason}
			}
			sender, recipient := in.Participants(acc, chat)
			eventID := "msg_" + strings.ReplaceAll(in.UUID, "-", "")
			inserts[i] = insert{index: i, account: acc.ID, messageID: in.MessageID, args: []any{
				it.workspaceID, acc.ID, chat.ID, in.MessageID, in.UUID, string(in.Direction),
				ms(in.Timestamp), it.now, sender.FullName, sender.Phone, recipient.FullName, recipient.Phone, in.Text,
				isNew, in.SkipReason, eventID, single && live, messageIDs[i], deliveryIDs[i],
				bundled && live}}
		}
		slices.SortStableFunc(inserts, func(a, b insert) int {
			return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.messageID, b.messageID))
		})
		batch := &pgx.Batch{}
		for _, ins := range inserts {
			batch.Queue(insertMessage, ins.args...)
		}
		// When each account last had a message, to the minute, in the
		// same round trip, last: its row lock is held only until the
		// commit that follows. To the minute because every request of an
		// account would otherwise update its one row, and concurrent
		// requests wait on each other's lock of it (single messages ran
		// at 0.6 of the rate): an account the prefetch read as updated
		// within the minute is not written at all.
		var stale []int64
		for _, a := range it.accounts {
			if ms(a.LastMessageAt) < it.now-lastMessageStep {
				stale = append(stale, a.ID)
			}
		}
		if len(stale) > 0 {
			slices.Sort(stale)
			batch.Queue(`UPDATE accounts SET last_message_at = $1 WHERE id = ANY($2) AND last_message_at < $3`,
				it.now, stale, it.now-lastMessageStep)
		}
		br := tx.SendBatch(ctx, batch)
		var dups []int
		for _, ins := range inserts {
			var id int64
			err := br.QueryRow().Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				dups = append(dups, ins.index)
				continue
			}
			if err != nil {
				br.Close()
				return fmt.Errorf("ingest message %d: %w", ins.index, err)
			}
		}
		if len(stale) > 0 {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("ingest: accounts: %w", err)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		slices.Sort(dups)
		// A duplicate answers with the chat the message was first stored
		// in. These reads come after the inserts, so they see the rows of
		// a concurrent transaction that made them duplicates.
		for _, i := range dups {
			var chatID int64
			if err := tx.QueryRow(ctx, `SELECT chat_id FROM messages WHERE account_id = $1 AND message_id = $2`,
				accounts[i], msgs[i].MessageID).Scan(&chatID); err != nil {
				return fmt.Errorf("ingest message %d: duplicate: %w", i, err)
			}
			results[i] = chathook.IngestResult{Status: chathook.Duplicate, ChatID: chatID, Reason: reasonDuplicate}
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return results, nil
}

// lastMessageStep is, in ms, the precision of an account's
// last_message_at: see store.Store.Ingest.
const lastMessageStep = 60_000

// prefetch reads, in two queries, the accounts and chats of the batch that
// exist already, so that only new ones and renames cost a round trip each.
func (it *ingestTx) prefetch(ctx context.Context, msgs []chathook.Incoming) error {
	phones := map[string]bool{}
	var list []string
	for i := range msgs {
		if p := msgs[i].Account.Phone; !phones[p] {
			phones[p] = true
			list = append(list, p)
		}
	}
	rows, err := it.tx.Query(ctx, `SELECT id, phone, full_name, email, last_message_at FROM accounts
		WHERE workspace_id = $1 AND phone = ANY($2)`, it.workspaceID, list)
	if err != nil {
		return fmt.Errorf("ingest: accounts: %w", err)
	}
	for rows.Next() {
		a := chathook.Account{WorkspaceID: it.workspaceID}
		var last int64
		if err := rows.Scan(&a.ID, &a.Phone, &a.FullName, &a.Email, &last); err != nil {
			return err
		}
		a.LastMessageAt = tables.OptionalTime(last)
		it.accounts[a.Phone] = a
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var accIDs []int64
	var extIDs []string
	for i := range msgs {
		if a, ok := it.accounts[msgs[i].Account.Phone]; ok {
			accIDs, extIDs = append(accIDs, a.ID), append(extIDs, msgs[i].Chat.ExternalID)
			if f := msgs[i].ChatFormerID; f != "" {
				accIDs, extIDs = append(accIDs, a.ID), append(extIDs, f)
			}
		}
	}
	if len(accIDs) == 0 {
		return nil
	}
	rows, err = it.tx.Query(ctx, `SELECT `+chatColumns+`, history_only FROM chats
		WHERE (account_id, external_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`, accIDs, extIDs)
	if err != nil {
		return fmt.Errorf("ingest: chats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var historyOnly bool
		c, err := scanChat(rows, &historyOnly)
		if err != nil {
			return err
		}
		it.chats[chatKey{c.AccountID, c.ExternalID}] = c
		it.historyOnly[c.ID] = historyOnly
	}
	return rows.Err()
}

// account returns the account of a message, creating it on first sight;
// names and email only change when the message carries them. A row
// created by a concurrent request is found, not created twice.
func (it *ingestTx) account(ctx context.Context, a chathook.Account) (chathook.Account, error) {
	seen, ok := it.accounts[a.Phone]
	if ok && (a.FullName == "" || a.FullName == seen.FullName) && (a.Email == "" || a.Email == seen.Email) {
		return seen, nil
	}
	a.WorkspaceID = it.workspaceID
	if !ok {
		err := it.tx.QueryRow(ctx, `INSERT INTO accounts (workspace_id, phone, full_name, email, last_message_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $5)
			ON CONFLICT (workspace_id, phone) DO NOTHING RETURNING id`, it.workspaceID, a.Phone, a.FullName, a.Email, it.now).Scan(&a.ID)
		if err == nil {
			a.LastMessageAt = fromMS(it.now)
			it.accounts[a.Phone] = a
			return a, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return a, fmt.Errorf("account: %w", err)
		}
		// Created meanwhile by another request: update it as below.
	}
	err := it.tx.QueryRow(ctx, `UPDATE accounts SET
			full_name = CASE WHEN $3 <> '' THEN $3 ELSE full_name END,
			email = CASE WHEN $4 <> '' THEN $4 ELSE email END
		WHERE workspace_id = $1 AND phone = $2 RETURNING id, full_name, email`,
		it.workspaceID, a.Phone, a.FullName, a.Email).Scan(&a.ID, &a.FullName, &a.Email)
	if err != nil {
		return a, fmt.Errorf("account: %w", err)
	}
	it.accounts[a.Phone] = a
	return a, nil
}

// chat returns the chat of a message's account, creating it on first
// sight, and records what the message changes of it: a new name or phone,
// the external id it now goes by (found by ChatFormerID, which prefetch
// read too), the end of history_only. isNew tells whether the message is
// the receiver's first of the chat: the live message that created it, or
// the first live one of a chat that only history messages were in. Of
// concurrent requests that see a new chat, or the first live message of a
// history-only one, exactly one says is_new_chat; the others find it.
func (it *ingestTx) chat(ctx context.Context, acc chathook.Account, in *chathook.Incoming, msg messageKey) (chat chathook.Chat, isNew bool, err error) {
	c := in.Chat
	key := chatKey{acc.ID, c.ExternalID}
	chat, ok := it.chats[key]
	if !ok && in.ChatFormerID != "" {
		former := chatKey{acc.ID, in.ChatFormerID}
		if chat, ok = it.chats[former]; ok {
			delete(it.chats, former)
		}
	}
	if !ok {
		name := c.FullName
		if name == "" { // a chat is never nameless in the UI: fall back to its number or id
			name = cmp.Or(c.Phone, c.ExternalID)
		}
		// The prefetch found no such chat, so an id is only spent on a
		// race with another request (ids are in URLs: few gaps).
		var historyOnly bool
		chat, err = scanChat(it.tx.QueryRow(ctx, `INSERT INTO chats
			(workspace_id, account_id, external_id, full_name, is_group, phone, created_at, history_only)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (account_id, external_id) DO NOTHING RETURNING `+chatColumns+`, history_only`,
			it.workspaceID, acc.ID, c.ExternalID, name, c.IsGroup, c.Phone, it.now, in.History), &historyOnly)
		if err == nil {
			it.historyOnly[chat.ID] = historyOnly
			it.chats[key] = chat
			return chat, !in.History, nil
		}
		if errors.Is(err, chathook.ErrNotFound) {
			chat, err = scanChat(it.tx.QueryRow(ctx, `SELECT `+chatColumns+`, history_only FROM chats
				WHERE account_id = $1 AND external_id = $2`, acc.ID, c.ExternalID), &historyOnly)
			it.historyOnly[chat.ID] = historyOnly
		}
		if err != nil {
			return chat, false, fmt.Errorf("chat: %w", err)
		}
	}
	changed := false
	if c.FullName != "" && c.FullName != chat.FullName {
		chat.FullName, changed = c.FullName, true
	}
	if c.Phone != "" && c.Phone != chat.Phone {
		chat.Phone, changed = c.Phone, true
	}
	if chat.ExternalID != c.ExternalID { // found by its former id
		chat.ExternalID, changed = c.ExternalID, true
	}
	if changed {
		if _, err := it.tx.Exec(ctx, `UPDATE chats SET full_name = $1, phone = $2, external_id = $3 WHERE id = $4`,
			chat.FullName, chat.Phone, chat.ExternalID, chat.ID); err != nil {
			return chat, false, fmt.Errorf("update chat: %w", err)
		}
	}
	// A skipped message (an attachment) is never delivered either: the
	// receiver hears of the chat with the first message it is sent.
	if !in.History && in.SkipReason == "" && it.historyOnly[chat.ID] {
		if isNew, err = it.firstLive(ctx, &chat, msg); err != nil {
			return chat, false, err
		}
	}
	it.chats[key] = chat
	return chat, isNew, nil
}

// firstLive ends a chat's history_only for its first live message, unless
// the message is a live copy of a stored history message (a duplicate).
// The receiver hears of the chat now, so created_at becomes now: a
// bundle's is_new_chat, which looks at created_at, agrees. The update is
// conditional, so of two requests at once only one says is_new_chat.
func (it *ingestTx) firstLive(ctx context.Context, chat *chathook.Chat, msg messageKey) (bool, error) {
	if it.historyKeys[msg] {
		return false, nil
	}
	var stored bool
	if err := it.tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM messages WHERE account_id = $1 AND message_id = $2)`,
		msg.account, msg.messageID).Scan(&stored); err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	if stored {
		return false, nil
	}
	tag, err := it.tx.Exec(ctx, `UPDATE chats SET history_only = false, created_at = $1 WHERE id = $2 AND history_only`,
		it.now, chat.ID)
	if err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	it.historyOnly[chat.ID] = false
	if tag.RowsAffected() == 0 { // another request's message came first
		return false, nil
	}
	chat.CreatedAt = fromMS(it.now)
	return true, nil
}
