package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chathook/chathook"
)

// Reasons given back with a non-accepted answer.
const (
	reasonDuplicate = "a message with this message_id was already received for this account"
)

// ingestTx holds the prepared statements of one Ingest transaction and the
// accounts and chats it has already seen, so a batch of 1000 messages in
// one chat touches that chat's row once.
type ingestTx struct {
	tx          *sql.Tx
	workspaceID string
	now         int64
	accounts    map[string]chathook.Account
	chats       map[chatKey]chathook.Chat

	insMessage, insDelivery, duplicateOf     *sql.Stmt
	upsertAccount, findChat, insChat, rename *sql.Stmt
}

// The statements of an ingest, prepared once per connection.
const (
	sqlInsertMessage = `INSERT INTO messages
		(workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
		 sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, skip_reason, pending)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, message_id) DO NOTHING RETURNING id`
	sqlInsertDelivery = `INSERT INTO deliveries
		(workspace_id, chat_id, message_id, event_id, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`
	sqlDuplicateOf   = `SELECT chat_id FROM messages WHERE account_id = ? AND message_id = ?`
	sqlUpsertAccount = `INSERT INTO accounts (workspace_id, phone, full_name, email) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id, phone) DO UPDATE SET
			full_name = CASE WHEN excluded.full_name <> '' THEN excluded.full_name ELSE accounts.full_name END,
			email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE accounts.email END
		RETURNING id, full_name, email`
	sqlFindChat   = `SELECT ` + chatColumns + ` FROM chats WHERE account_id = ? AND external_id = ?`
	sqlInsertChat = `INSERT INTO chats
		(workspace_id, account_id, external_id, full_name, is_group, phone, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		RETURNING ` + chatColumns
	sqlRenameChat   = `UPDATE chats SET full_name = ? WHERE id = ?`
	sqlIngestTarget = `SELECT url <> '', granularity FROM webhooks WHERE workspace_id = ?`
)

type chatKey struct {
	account    int64
	externalID string
}

// Ingest stores msgs in one transaction; see store.Store.
func (s *Store) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// Deliveries are queued from the moment a webhook URL is set, as Svix
	// does for endpoints: a workspace that never configures one builds no
	// backlog. A disabled webhook still queues: it is paused, not off.
	// With a granularity, a message waits for its window's bundle instead.
	var hasURL bool
	var g chathook.Granularity
	if err := s.prep(ctx, tx, sqlIngestTarget).QueryRowContext(ctx, workspaceID).Scan(&hasURL, &g); err != nil {
		return nil, fmt.Errorf("ingest: webhook of %s: %w", workspaceID, err)
	}
	queue := queueNone
	switch {
	case hasURL && g == chathook.NoAggregation:
		queue = queueDelivery
	case hasURL:
		queue = queueBundle
	}
	it := &ingestTx{
		tx: tx, workspaceID: workspaceID, now: ms(now),
		accounts: map[string]chathook.Account{}, chats: map[chatKey]chathook.Chat{},
	}
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{
		{&it.insMessage, sqlInsertMessage}, {&it.insDelivery, sqlInsertDelivery}, {&it.duplicateOf, sqlDuplicateOf},
		{&it.upsertAccount, sqlUpsertAccount}, {&it.findChat, sqlFindChat}, {&it.insChat, sqlInsertChat}, {&it.rename, sqlRenameChat},
	} {
		*p.st = s.prep(ctx, tx, p.query)
	}

	results := make([]chathook.IngestResult, len(msgs))
	for i := range msgs {
		if results[i], err = it.one(ctx, &msgs[i], queue); err != nil {
			return nil, fmt.Errorf("ingest message %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return results, nil
}

// How an accepted message is queued.
type queueMode int

const (
	queueNone     queueMode = iota // no webhook URL: stored only
	queueDelivery                  // a delivery of its own, at once
	queueBundle                    // pending, for its window's bundle
)

func (it *ingestTx) one(ctx context.Context, in *chathook.Incoming, queue queueMode) (chathook.IngestResult, error) {
	acc, err := it.account(ctx, in.Account)
	if err != nil {
		return chathook.IngestResult{}, err
	}
	chat, created, err := it.chat(ctx, acc, in.Chat)
	if err != nil {
		return chathook.IngestResult{}, err
	}
	sender, recipient := in.Participants(acc, chat)
	var id int64
	err = it.insMessage.QueryRowContext(ctx, it.workspaceID, acc.ID, chat.ID, in.MessageID, in.UUID, string(in.Direction),
		ms(in.Timestamp), it.now, sender.FullName, sender.Phone, recipient.FullName, recipient.Phone, in.Text,
		created, in.SkipReason, queue == queueBundle && in.SkipReason == "").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		var chatID int64
		if err := it.duplicateOf.QueryRowContext(ctx, acc.ID, in.MessageID).Scan(&chatID); err != nil {
			return chathook.IngestResult{}, err
		}
		return chathook.IngestResult{Status: chathook.Duplicate, ChatID: chatID, Reason: reasonDuplicate}, nil
	}
	if err != nil {
		return chathook.IngestResult{}, err
	}
	if in.SkipReason != "" {
		return chathook.IngestResult{Status: chathook.Skipped, ChatID: chat.ID, Reason: in.SkipReason}, nil
	}
	if queue == queueDelivery {
		eventID := "msg_" + strings.ReplaceAll(in.UUID, "-", "")
		if _, err := it.insDelivery.ExecContext(ctx, it.workspaceID, chat.ID, id, eventID, it.now, it.now); err != nil {
			return chathook.IngestResult{}, err
		}
	}
	return chathook.IngestResult{Status: chathook.Accepted, ChatID: chat.ID}, nil
}

// account creates or updates the account; names and email only change
// when the message carries them.
func (it *ingestTx) account(ctx context.Context, a chathook.Account) (chathook.Account, error) {
	if seen, ok := it.accounts[a.Phone]; ok && (a.FullName == "" || a.FullName == seen.FullName) && (a.Email == "" || a.Email == seen.Email) {
		return seen, nil
	}
	a.WorkspaceID = it.workspaceID
	err := it.upsertAccount.QueryRowContext(ctx, it.workspaceID, a.Phone, a.FullName, a.Email).Scan(&a.ID, &a.FullName, &a.Email)
	if err != nil {
		return a, fmt.Errorf("account: %w", err)
	}
	it.accounts[a.Phone] = a
	return a, nil
}

// chat returns the chat of an account, creating it on first sight
// (created is then true) and renaming it when the message carries a new
// name.
func (it *ingestTx) chat(ctx context.Context, acc chathook.Account, c chathook.Chat) (chat chathook.Chat, created bool, err error) {
	key := chatKey{acc.ID, c.ExternalID}
	chat, ok := it.chats[key]
	if !ok {
		// Look before inserting: an INSERT that conflicts would still use
		// up a chat id, and ids are in URLs.
		chat, err = scanChat(it.findChat.QueryRowContext(ctx, acc.ID, c.ExternalID))
		if errors.Is(err, chathook.ErrNotFound) {
			name := c.FullName
			if name == "" { // a chat is never nameless in the UI: fall back to its number or id
				name = cmp.Or(c.Phone, c.ExternalID)
			}
			// The writer is the only connection: nobody inserts it meanwhile.
			chat, err = scanChat(it.insChat.QueryRowContext(ctx, it.workspaceID, acc.ID, c.ExternalID, name, c.IsGroup, c.Phone, it.now))
			created = err == nil
		}
		if err != nil {
			return chat, false, fmt.Errorf("chat: %w", err)
		}
	}
	if c.FullName != "" && c.FullName != chat.FullName {
		if _, err := it.rename.ExecContext(ctx, c.FullName, chat.ID); err != nil {
			return chat, false, fmt.Errorf("rename chat: %w", err)
		}
		chat.FullName = c.FullName
	}
	it.chats[key] = chat
	return chat, created, nil
}
