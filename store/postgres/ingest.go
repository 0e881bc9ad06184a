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
	var results []chathook.IngestResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
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
			accounts: map[string]chathook.Account{}, chats: map[chatKey]chathook.Chat{}}
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
			chat, created, err := it.chat(ctx, acc, in.Chat)
			if err != nil {
				return fmt.Errorf("ingest message %d: %w", i, err)
			}
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
				created, in.SkipReason, eventID, single && in.SkipReason == "", messageIDs[i], deliveryIDs[i],
				bundled && in.SkipReason == ""}}
		}
		slices.SortStableFunc(inserts, func(a, b insert) int {
			return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.messageID, b.messageID))
		})
		batch := &pgx.Batch{}
		for _, ins := range inserts {
			batch.Queue(insertMessage, ins.args...)
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
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

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
	rows, err := it.tx.Query(ctx, `SELECT id, phone, full_name, email FROM accounts WHERE workspace_id = $1 AND phone = ANY($2)`,
		it.workspaceID, list)
	if err != nil {
		return fmt.Errorf("ingest: accounts: %w", err)
	}
	for rows.Next() {
		a := chathook.Account{WorkspaceID: it.workspaceID}
		if err := rows.Scan(&a.ID, &a.Phone, &a.FullName, &a.Email); err != nil {
			return err
		}
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
		}
	}
	if len(accIDs) == 0 {
		return nil
	}
	rows, err = it.tx.Query(ctx, `SELECT `+chatColumns+` FROM chats
		WHERE (account_id, external_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`, accIDs, extIDs)
	if err != nil {
		return fmt.Errorf("ingest: chats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			return err
		}
		it.chats[chatKey{c.AccountID, c.ExternalID}] = c
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
		err := it.tx.QueryRow(ctx, `INSERT INTO accounts (workspace_id, phone, full_name, email) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id, phone) DO NOTHING RETURNING id`, it.workspaceID, a.Phone, a.FullName, a.Email).Scan(&a.ID)
		if err == nil {
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

// chat returns the chat of an account, creating it on first sight
// (created is then true) and renaming it when the message carries a new
// name. Of concurrent requests that see a new chat, exactly one creates
// it (and says is_new_chat); the others find it.
func (it *ingestTx) chat(ctx context.Context, acc chathook.Account, c chathook.Chat) (chat chathook.Chat, created bool, err error) {
	key := chatKey{acc.ID, c.ExternalID}
	chat, ok := it.chats[key]
	if !ok {
		name := c.FullName
		if name == "" { // a chat is never nameless in the UI: fall back to its number or id
			name = cmp.Or(c.Phone, c.ExternalID)
		}
		// The prefetch found no such chat, so an id is only spent on a
		// race with another request (ids are in URLs: few gaps).
		chat, err = scanChat(it.tx.QueryRow(ctx, `INSERT INTO chats
			(workspace_id, account_id, external_id, full_name, is_group, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (account_id, external_id) DO NOTHING RETURNING `+chatColumns,
			it.workspaceID, acc.ID, c.ExternalID, name, c.IsGroup, c.Phone, it.now))
		created = err == nil
		if errors.Is(err, chathook.ErrNotFound) {
			chat, err = scanChat(it.tx.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE account_id = $1 AND external_id = $2`,
				acc.ID, c.ExternalID))
		}
		if err != nil {
			return chat, false, fmt.Errorf("chat: %w", err)
		}
	}
	if c.FullName != "" && c.FullName != chat.FullName {
		if _, err := it.tx.Exec(ctx, `UPDATE chats SET full_name = $1 WHERE id = $2`, c.FullName, chat.ID); err != nil {
			return chat, false, fmt.Errorf("rename chat: %w", err)
		}
		chat.FullName = c.FullName
	}
	it.chats[key] = chat
	return chat, created, nil
}
