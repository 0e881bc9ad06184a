package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reasons given back with a non-accepted answer (the same words as SQLite's).
const (
	reasonDuplicate = "a message with this message_id was already received for this account"
)

// insertMessages stores a group's messages, given as arrays in
// (account, message_id) order ($1-$16, and $30: how many attachments
// each has), the deliveries ($17-$25 and $31, in the order they are
// queued: delivery ids follow it, and with them each lane's order; $31 is
// when each is due, store.HeldDue while its message has a file pending),
// the waits for bundles ($26-$29) and the attachments (from $32,
// attachmentArrays) of those that are stored, with their words (wordsArg)
// and their chats' latest message, in one statement, one message after
// the other in that order.
// It returns, for each message in order, whether it was stored and, when
// (account, message_id) was already taken, the chat of the message stored
// first, if this statement's snapshot shows it (see writeGroup). When
// another transaction holds the same key uncommitted, PostgreSQL waits
// for it: if it commits, this row is a duplicate; if it rolls back, this
// row is stored. So concurrent duplicates, on any number of instances,
// yield exactly one message, and only it is queued.
var insertMessages = `WITH i AS (
	SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
		$8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bool[],
		$16::text[], $30::bigint[], ` + wordsArg + `::text[])
	WITH ORDINALITY AS i (id, workspace_id, account_id, chat_id, message_id, uuid, direction,
		sent_at, received_at, sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat,
		skip_reason, attachments, words, n)
), m AS (
	INSERT INTO messages (id, workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
		sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, skip_reason, attachments, words)
	SELECT id, workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
		sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, skip_reason, attachments,
		words::tsvector
	FROM i ORDER BY n
	ON CONFLICT (account_id, message_id) DO NOTHING RETURNING id, chat_id, sent_at
), l AS (
	-- Each chat's latest message, moved forward only: one row per chat
	-- whatever the batch's size. Under concurrent ingests the condition
	-- is checked again on the row as another transaction committed it
	-- (READ COMMITTED re-reads an updated row before updating it), so
	-- the later message wins whichever commits first.
	UPDATE chats c SET last_sent_at = x.sent_at, last_message_id = x.id
	FROM (SELECT DISTINCT ON (chat_id) chat_id, sent_at, id FROM m ORDER BY chat_id, sent_at DESC, id DESC) x
	WHERE c.id = x.chat_id AND (c.last_sent_at, c.last_message_id) < (x.sent_at, x.id)
), q AS (
	SELECT * FROM unnest($17::bigint[], $18::text[], $19::bigint[], $20::bigint[], $21::bigint[], $22::text[], $23::text[],
		$24::text[], $25::bigint[], $31::bigint[])
	WITH ORDINALITY AS q (message_id, workspace_id, endpoint_id, lane, chat_id, kind, type, event_id, at, due, n)
), d AS (
	-- The SELECT is sorted before the rows go in, so their ids, drawn as
	-- they go in, follow q's order.
	INSERT INTO deliveries (workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, type, due_at, created_at)
	SELECT q.workspace_id, q.endpoint_id, q.lane, q.chat_id, q.message_id, q.event_id, q.kind, q.type, q.due, q.at
	FROM q JOIN m ON m.id = q.message_id ORDER BY q.n
), t AS (
	INSERT INTO attachments (` + tables.AttachmentInsertColumns + `)
	SELECT ` + attachmentInsertColumnsX + ` FROM ` + attachmentArrays + `
	JOIN m ON m.id = x.message_id ORDER BY x.n
), w AS (
	INSERT INTO waiting (endpoint_id, chat_id, message_id, received_at)
	SELECT x.endpoint_id, x.chat_id, x.message_id, x.received_at
	FROM unnest($26::bigint[], $27::bigint[], $28::bigint[], $29::bigint[]) AS x (endpoint_id, chat_id, message_id, received_at)
	JOIN m ON m.id = x.message_id
	ON CONFLICT DO NOTHING
)
SELECT m.id IS NOT NULL, CASE WHEN m.id IS NULL THEN
	(SELECT e.chat_id FROM messages e WHERE e.account_id = i.account_id AND e.message_id = i.message_id) END
FROM i LEFT JOIN m ON m.id = i.id ORDER BY i.n`

// wordsArg is insertMessages' parameter of the messages' words (see
// tsvector), after the attachments'.
var wordsArg = fmt.Sprintf("$%d", attachmentFirstArg+tables.AttachmentWidth)

// rows are the arrays of insertMessages.
type rows struct {
	ids, accounts, chats, sentAt, receivedAt []int64
	workspaces, messageIDs, uuids, directions, senderNames, senderPhones,
	recipientNames, recipientPhones, texts, skipReasons, words []string
	isNewChat []bool
	// How many attachments each message has; the attachments themselves.
	attachments []int64
	files       attachmentColumns

	// The deliveries, in the order they are queued, and when each is due.
	dMessages, dEndpoints, dLanes, dChats, dAt, dDue []int64
	dWorkspaces, dKinds, dTypes, dEventIDs           []string
	// The waits for bundles.
	wEndpoints, wChats, wMessages, wAt []int64
}

func (r *rows) add(ins *insert) {
	r.ids, r.accounts, r.chats = append(r.ids, ins.id), append(r.accounts, ins.account), append(r.chats, ins.chat)
	r.sentAt, r.receivedAt = append(r.sentAt, ins.sentAt), append(r.receivedAt, ins.receivedAt)
	r.workspaces, r.messageIDs, r.uuids = append(r.workspaces, ins.workspace), append(r.messageIDs, ins.messageID), append(r.uuids, ins.uuid)
	r.directions, r.texts, r.skipReasons = append(r.directions, ins.direction), append(r.texts, ins.text), append(r.skipReasons, ins.skipReason)
	r.senderNames, r.senderPhones = append(r.senderNames, ins.sender.FullName), append(r.senderPhones, ins.sender.Phone)
	r.recipientNames, r.recipientPhones = append(r.recipientNames, ins.recipient.FullName), append(r.recipientPhones, ins.recipient.Phone)
	r.isNewChat, r.words = append(r.isNewChat, ins.isNewChat), append(r.words, tsvector(ins.text))
	r.attachments = append(r.attachments, int64(len(ins.attachments)))
	for i, a := range ins.attachments {
		r.files.add(tables.AttachmentValues(ins.workspace, ins.account, ins.id, i, a, ins.receivedAt))
	}
}

// queue adds what a message makes for its endpoints, should it be
// stored: call it in the order the group's messages came.
func (r *rows) queue(ins *insert) {
	due := ins.receivedAt
	if tables.Pending(ins.attachments) {
		due = store.HeldDue // until its files are stored
	}
	for _, q := range ins.queued {
		if q.Bundle {
			r.wEndpoints, r.wChats = append(r.wEndpoints, q.Target.Key), append(r.wChats, ins.chat)
			r.wMessages, r.wAt = append(r.wMessages, ins.id), append(r.wAt, ins.receivedAt)
			continue
		}
		r.dMessages, r.dWorkspaces = append(r.dMessages, ins.id), append(r.dWorkspaces, ins.workspace)
		r.dEndpoints, r.dLanes, r.dChats = append(r.dEndpoints, q.Target.Key), append(r.dLanes, q.Lane), append(r.dChats, ins.chat)
		r.dKinds, r.dTypes, r.dEventIDs = append(r.dKinds, q.Kind), append(r.dTypes, q.Type), append(r.dEventIDs, q.EventID)
		r.dAt, r.dDue = append(r.dAt, ins.receivedAt), append(r.dDue, due)
	}
}

func (r *rows) args() []any {
	args := []any{r.ids, r.workspaces, r.accounts, r.chats, r.messageIDs, r.uuids, r.directions,
		r.sentAt, r.receivedAt, r.senderNames, r.senderPhones, r.recipientNames, r.recipientPhones, r.texts, r.isNewChat,
		r.skipReasons,
		r.dMessages, r.dWorkspaces, r.dEndpoints, r.dLanes, r.dChats, r.dKinds, r.dTypes, r.dEventIDs, r.dAt,
		r.wEndpoints, r.wChats, r.wMessages, r.wAt, r.attachments, r.dDue}
	return append(append(args, r.files.args()...), r.words)
}

// newIDs reserves ids for a group's messages, ascending in the order
// they are handed out.
const newIDs = `SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1)`

// The reads that open a group's transaction (see prefetch), for all of
// its workspaces at once.
const (
	// Deliveries are queued from the moment an endpoint's URL is set; a
	// disabled endpoint still queues: it is paused, not off. With a
	// granularity, a message waits for its window's bundle instead. FOR
	// KEY SHARE: a change of granularity or a delete (UpdateWebhook,
	// DeleteWebhook, FOR UPDATE) waits for this transaction, so a switch
	// to none finds its waiting messages and a delete its deliveries;
	// ingests do not wait for one another. Every endpoint is read (and
	// locked, in one order), so that a workspace's outbound tells it
	// exists; those with a URL are its targets, in slot order.
	endpointsForIngest = `SELECT workspace_id, url <> '', ` + tables.TargetColumns + ` FROM endpoints
	WHERE workspace_id = ANY($1) AND deleted_at = 0 ORDER BY workspace_id, slot FOR KEY SHARE`
	accountsForIngest = `SELECT workspace_id, id, phone, full_name, email, last_message_at FROM accounts
	WHERE (workspace_id, phone) IN (SELECT * FROM unnest($1::text[], $2::text[]))`
	// Chats by (workspace, account phone, external id): the ids of the
	// accounts are read in the same round trip, so not known yet. The
	// account's id is a subquery, not a join: with a join, the planner
	// of a young database (accounts and chats not analyzed yet) looks
	// chats up by account alone and filters an account's thousands of
	// chats by external_id, for each one read.
	chatsForIngest = `SELECT ` + chatColumns + `, history_only FROM chats
	WHERE (account_id, external_id) IN (
		SELECT (SELECT id FROM accounts WHERE workspace_id = k.workspace_id AND phone = k.phone), k.external_id
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k (workspace_id, phone, external_id))`
)

// querier is what a batch needs of the group's connection.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ingestTx is one batch (one workspace's messages) of a group's
// transaction, with the accounts and chats it has seen, so that a batch
// of 1000 messages in one chat reads that chat once.
type ingestTx struct {
	conn        querier
	workspaceID string
	now         int64
	msgs        []chathook.Incoming
	// webhook tells that prefetch found the workspace's outbound
	// webhook; targets are its endpoints that get events.
	webhook  bool
	targets  []tables.Target
	accounts map[string]chathook.Account
	chats    map[chatKey]chathook.Chat
	// historyOnly holds the chats of the batch that only history
	// messages are in so far; historyKeys the history messages of the
	// batch (nil until one comes), so that a live copy of one of them
	// is known for a duplicate before it is written.
	historyOnly map[int64]bool
	historyKeys map[messageKey]bool
	results     []chathook.IngestResult
}

type messageKey struct {
	account   int64
	messageID string
}

// insert is one message's row of insertMessages, and where it is in
// the group.
type insert struct {
	it    *ingestTx
	index int

	id, account, chat, sentAt, receivedAt                   int64
	workspace, messageID, uuid, direction, text, skipReason string
	sender, recipient                                       chathook.Person
	isNewChat                                               bool
	attachments                                             []chathook.Attachment
	queued                                                  []tables.Queued // if it is stored
}

type chatKey struct {
	account    int64
	externalID string
}

// Ingest stores msgs in one transaction; see store.Store. Concurrent
// calls share transactions: see package group, and commitGroup.
func (s *Store) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	return s.group.Ingest(ctx, workspaceID, now, msgs)
}

// commitGroup writes a group's batches, one workspace each, in one
// transaction, run again after a deadlock or a serialization failure
// (retried, as inTx).
func (s *Store) commitGroup(ctx context.Context, batches []group.Batch) (results [][]chathook.IngestResult, err error) {
	err = retried(ctx, func() error {
		results, err = s.writeGroup(ctx, batches)
		return err
	})
	return results, err
}

// writeGroup is one run of commitGroup's transaction. It costs two round
// trips, whatever the group's size, and one more for each thing the
// first could not know:
//
//  1. BEGIN, and the reads every batch needs: its endpoints, the accounts
//     and chats of its messages that exist already, ids for its rows
//     (prefetch);
//  2. one round trip each for a new account or chat, a rename, a
//     history-only chat's first live message (resolve): accounts and
//     chats are resolved one message after the other, as in SQLite;
//  3. every message, delivery and wait for a bundle, in one statement (insertMessages: a
//     statement a message cost twice as much of the server's time), the
//     accounts' last_message_at, and COMMIT, in one pipeline;
//  4. only if the insert met duplicates it could not see (below): the
//     chats those were first stored in.
//
// The rows get ids reserved beforehand in batch order, which is the order
// the dispatcher keeps per chat, but are inserted in (account,
// message_id) order across the group (an account is one workspace's):
// every transaction takes the unique-key locks of its messages in the
// same global order, so groups that share messages (a source retrying,
// two instances given the same messages) wait for each other and never
// deadlock.
func (s *Store) writeGroup(ctx context.Context, batches []group.Batch) ([][]chathook.IngestResult, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A failure leaves the transaction open: roll it back. If that
		// fails too, Release closes the connection, which is not idle.
		if c.Conn().PgConn().TxStatus() != 'I' {
			_, _ = c.Exec(ctx, "ROLLBACK")
		}
		c.Release()
	}()
	its := make([]*ingestTx, len(batches))
	total := 0
	for i, b := range batches {
		its[i] = &ingestTx{conn: c, workspaceID: b.WorkspaceID, now: ms(b.Now), msgs: b.Msgs,
			accounts: map[string]chathook.Account{}, chats: map[chatKey]chathook.Chat{}, historyOnly: map[int64]bool{}}
		total += len(b.Msgs)
	}
	messageIDs, err := prefetch(ctx, c, its, total)
	if err != nil {
		return nil, err
	}
	var inserts []insert
	for _, it := range its {
		ins, err := it.resolve(ctx, messageIDs[:len(it.msgs)])
		if err != nil {
			return nil, err
		}
		inserts = append(inserts, ins...)
		messageIDs = messageIDs[len(it.msgs):]
	}
	var r rows
	for i := range inserts { // in batch order
		r.queue(&inserts[i])
	}
	slices.SortStableFunc(inserts, func(a, b insert) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.messageID, b.messageID))
	})
	for i := range inserts {
		r.add(&inserts[i])
	}
	batch := &pgx.Batch{}
	batch.Queue(insertMessages, r.args()...)
	// When each account last had a message, to the minute, in the same
	// round trip, last: its row lock is held only until the commit that
	// follows. To the minute because every request of an account would
	// otherwise update its one row, and concurrent requests wait on each
	// other's lock of it (single messages ran at 0.6 of the rate): an
	// account the prefetch read as updated within the minute is not
	// written at all.
	updates := 0
	for _, it := range its {
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
			updates++
		}
	}
	batch.Queue("COMMIT")
	br := c.SendBatch(ctx, batch)
	var unseen []insert
	res, _ := br.Query()
	n := 0
	var stored bool
	var chatID *int64
	_, err = pgx.ForEachRow(res, []any{&stored, &chatID}, func() error {
		if n >= len(inserts) {
			return fmt.Errorf("%d rows for %d messages", n+1, len(inserts))
		}
		ins := inserts[n]
		n++
		switch {
		case stored:
		case chatID != nil: // a duplicate, and the chat of the message stored first
			ins.it.results[ins.index] = chathook.IngestResult{Status: chathook.Duplicate, ChatID: *chatID, Reason: reasonDuplicate}
		default:
			unseen = append(unseen, ins)
		}
		return nil
	})
	if err == nil && n != len(inserts) {
		err = fmt.Errorf("%d rows for %d messages", n, len(inserts))
	}
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("ingest: messages: %w", err)
	}
	for range updates {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("ingest: accounts: %w", err)
		}
	}
	tag, err := br.Exec()
	if err == nil && tag.String() != "COMMIT" {
		err = fmt.Errorf("%s", tag)
	}
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("ingest: commit: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	// A duplicate answers with the chat the message was first stored in.
	// The insert read it, unless the row that made it a duplicate is not
	// in the insert's snapshot: one of the same statement (a message twice
	// in a group), or of a transaction that was writing the same key when
	// the statement began. Any statement after it sees the row (messages
	// are never deleted). This one is after the commit: should it fail,
	// the group is written again call by call, and the messages it stored
	// are answered Duplicate, which a client retrying would be told too.
	if len(unseen) > 0 {
		batch := &pgx.Batch{}
		for _, ins := range unseen {
			batch.Queue(`SELECT chat_id FROM messages WHERE account_id = $1 AND message_id = $2`, ins.account, ins.messageID)
		}
		br := c.SendBatch(ctx, batch)
		for _, ins := range unseen {
			var chatID int64
			if err := br.QueryRow().Scan(&chatID); err != nil {
				br.Close()
				return nil, fmt.Errorf("ingest message %d: duplicate: %w", ins.index, err)
			}
			ins.it.results[ins.index] = chathook.IngestResult{Status: chathook.Duplicate, ChatID: chatID, Reason: reasonDuplicate}
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	results := make([][]chathook.IngestResult, len(its))
	for i, it := range its {
		results[i] = it.results
	}
	return results, nil
}

// lastMessageStep is, in ms, the precision of an account's
// last_message_at: see store.Store.Ingest.
const lastMessageStep = 60_000

// prefetch begins a group's transaction and reads, in the same round trip,
// what each of its batches needs: its endpoints, the accounts and chats of
// its messages that exist already (so that only new ones and renames cost
// a round trip each), and ids for its messages, which it returns,
// ascending.
func prefetch(ctx context.Context, c *pgxpool.Conn, its []*ingestTx, total int) (messageIDs []int64, err error) {
	byWorkspace := map[string]*ingestTx{}
	var workspaces, accWS, accPhones, chatWS, chatPhones, chatExt []string
	type chatRef struct{ phone, externalID string }
	for _, it := range its {
		byWorkspace[it.workspaceID] = it
		workspaces = append(workspaces, it.workspaceID)
		phones := map[string]bool{}
		chats := map[chatRef]bool{}
		for i := range it.msgs {
			in := &it.msgs[i]
			if p := in.Account.Phone; !phones[p] {
				phones[p] = true
				accWS, accPhones = append(accWS, it.workspaceID), append(accPhones, p)
			}
			for _, ext := range []string{in.Chat.ExternalID, in.ChatFormerID} {
				if r := (chatRef{in.Account.Phone, ext}); ext != "" && !chats[r] {
					chats[r] = true
					chatWS, chatPhones, chatExt = append(chatWS, it.workspaceID), append(chatPhones, r.phone), append(chatExt, ext)
				}
			}
		}
	}
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(endpointsForIngest, workspaces)
	batch.Queue(accountsForIngest, accWS, accPhones)
	batch.Queue(chatsForIngest, chatWS, chatPhones, chatExt)
	batch.Queue(newIDs, total)
	br := c.SendBatch(ctx, batch)
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, _ := br.Query()
		for rows.Next() {
			var ws string
			var hasURL bool
			t, err := tables.ScanTarget(rows, &ws, &hasURL)
			if err != nil {
				rows.Close()
				return fmt.Errorf("ingest: endpoints: %w", err)
			}
			it := byWorkspace[ws]
			it.webhook = it.webhook || t.Slot == 0
			if hasURL {
				it.targets = append(it.targets, t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ingest: endpoints: %w", err)
		}
		rows, _ = br.Query()
		var a chathook.Account
		var last int64
		if _, err := pgx.ForEachRow(rows, []any{&a.WorkspaceID, &a.ID, &a.Phone, &a.FullName, &a.Email, &last}, func() error {
			a.LastMessageAt = tables.OptionalTime(last)
			byWorkspace[a.WorkspaceID].accounts[a.Phone] = a
			return nil
		}); err != nil {
			return fmt.Errorf("ingest: accounts: %w", err)
		}
		rows, _ = br.Query()
		defer rows.Close()
		for rows.Next() {
			var historyOnly bool
			chat, err := scanChat(rows, &historyOnly)
			if err != nil {
				return fmt.Errorf("ingest: chats: %w", err)
			}
			it := byWorkspace[chat.WorkspaceID]
			it.chats[chatKey{chat.AccountID, chat.ExternalID}] = chat
			it.historyOnly[chat.ID] = historyOnly
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ingest: chats: %w", err)
		}
		rows.Close()
		rows, _ = br.Query()
		var m int64
		if _, err := pgx.ForEachRow(rows, []any{&m}, func() error {
			messageIDs = append(messageIDs, m)
			return nil
		}); err != nil {
			return fmt.Errorf("ingest: reserve ids: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, it := range its {
		if !it.webhook {
			return nil, fmt.Errorf("ingest: webhook of %s: %w", it.workspaceID, pgx.ErrNoRows)
		}
	}
	slices.Sort(messageIDs)
	return messageIDs, nil
}

// targetsForReply reads the endpoints that get a workspace's ($1)
// events, FOR KEY SHARE as an ingest does.
var targetsForReply = fmt.Sprintf(tables.TargetsOf, "$1") + ` FOR KEY SHARE`

// readTargets reads the rows of targetsForReply.
func readTargets(rows pgx.Rows, err error) ([]tables.Target, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Targets(rows)
}

// resolve finds or creates the account and chat of each message of the
// batch, answers it Accepted or Skipped (writeGroup tells duplicates),
// and returns its insert, with the ids given and what it makes for the
// workspace's endpoints (tables.FanOut), in batch order.
func (it *ingestTx) resolve(ctx context.Context, messageIDs []int64) ([]insert, error) {
	it.results = make([]chathook.IngestResult, len(it.msgs))
	inserts := make([]insert, len(it.msgs))
	for i := range it.msgs {
		in := &it.msgs[i]
		acc, err := it.account(ctx, in.Account)
		if err != nil {
			return nil, fmt.Errorf("ingest message %d: %w", i, err)
		}
		key := messageKey{acc.ID, in.MessageID}
		chat, isNew, err := it.chat(ctx, acc, in, key)
		if err != nil {
			return nil, fmt.Errorf("ingest message %d: %w", i, err)
		}
		if in.History {
			if it.historyKeys == nil {
				it.historyKeys = map[messageKey]bool{}
			}
			it.historyKeys[key] = true
		}
		it.results[i] = chathook.IngestResult{Status: chathook.Accepted, ChatID: chat.ID}
		if in.SkipReason != "" {
			it.results[i] = chathook.IngestResult{Status: chathook.Skipped, ChatID: chat.ID, Reason: in.SkipReason}
		}
		sender, recipient := in.Participants(acc, chat)
		inserts[i] = insert{it: it, index: i,
			id: messageIDs[i], account: acc.ID, chat: chat.ID,
			sentAt: ms(in.Timestamp), receivedAt: it.now,
			workspace: it.workspaceID, messageID: in.MessageID, uuid: in.UUID, direction: string(in.Direction),
			text: in.Text, skipReason: in.SkipReason,
			sender: sender, recipient: recipient,
			isNewChat: isNew, attachments: in.Attachments}
		if len(it.targets) > 0 {
			facts := tables.Stored{ChatID: chat.ID, AccountID: acc.ID, UUID: in.UUID, Direction: in.Direction,
				Live: !in.History, Skipped: in.SkipReason != "", NewChat: isNew}
			inserts[i].queued = tables.FanOut(nil, it.targets, facts, tables.NewEventID)
		}
	}
	return inserts, nil
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
		err := it.conn.QueryRow(ctx, `INSERT INTO accounts (workspace_id, phone, full_name, email, last_message_at, created_at)
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
	err := it.conn.QueryRow(ctx, `UPDATE accounts SET
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
		chat, err = scanChat(it.conn.QueryRow(ctx, `INSERT INTO chats
			(workspace_id, account_id, external_id, full_name, is_group, phone, created_at, history_only, name_words)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::tsvector)
			ON CONFLICT (account_id, external_id) DO NOTHING RETURNING `+chatColumns+`, history_only`,
			it.workspaceID, acc.ID, c.ExternalID, name, c.IsGroup, c.Phone, it.now, in.History, tsvector(name)), &historyOnly)
		if err == nil {
			it.historyOnly[chat.ID] = historyOnly
			it.chats[key] = chat
			return chat, !in.History, nil
		}
		if errors.Is(err, chathook.ErrNotFound) {
			chat, err = scanChat(it.conn.QueryRow(ctx, `SELECT `+chatColumns+`, history_only FROM chats
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
		if _, err := it.conn.Exec(ctx, `UPDATE chats SET full_name = $1, phone = $2, external_id = $3, name_words = $5::tsvector
			WHERE id = $4`, chat.FullName, chat.Phone, chat.ExternalID, chat.ID, tsvector(chat.FullName)); err != nil {
			return chat, false, fmt.Errorf("update chat: %w", err)
		}
	}
	// A skipped message (an attachment) is never delivered in the seed
	// format: the receiver hears of the chat with the first message it
	// is sent. (Event endpoints get it, but chat:created keeps this rule.)
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
	if err := it.conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM messages WHERE account_id = $1 AND message_id = $2)`,
		msg.account, msg.messageID).Scan(&stored); err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	if stored {
		return false, nil
	}
	tag, err := it.conn.Exec(ctx, `UPDATE chats SET history_only = false, created_at = $1 WHERE id = $2 AND history_only`,
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
