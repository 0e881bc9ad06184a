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
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
	"github.com/chathook/chathook/store/tables"
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
	// historyOnly holds the chats of the batch that only history
	// messages are in so far; historyKeys the history messages of the
	// batch (nil until one comes), so that a live copy of one of them
	// is known for a duplicate before it is written.
	historyOnly map[int64]bool
	historyKeys map[messageKey]bool

	duplicateOf, upsertAccount, findChat, insChat, updateChat *sql.Stmt

	targets []tables.Target // the workspace's endpoints that get events
	hand    *handing        // nil without a receiver
	room    map[int64]int   // how many more lanes of each endpoint the receiver takes
}

// handing is what a group's transaction leases to the receiver (see
// store.HandOff): the deliveries of the lanes that had nothing pending.
type handing struct {
	r     *store.Receiver
	began time.Time      // when the transaction began (real time)
	lanes map[int64]bool // the group's queued lanes: whether they are handed
	ids   []int64        // the deliveries leased
}

// rowChunks are the sizes of the multi-row inserts of messages and
// deliveries: a batch is written as a sum of them, largest first (1000 =
// 15×64 + 32 + 8), each a statement prepared at Open. One statement per
// row cost as much in statement overhead as in writing the row.
var rowChunks = []int{64, 32, 16, 8, 4, 2, 1}

// multiRow returns "(?, …), (?, …), …" for n rows of width values.
func multiRow(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// sqlInsertMessages and sqlInsertDeliveries hold, per chunk size, the
// insert of that many messages (returning which were new: a repeat of a
// stored or an earlier message is not) and of that many deliveries;
// sqlInsertHanded is the latter returning which were leased, for a chunk
// with deliveries handed over (see store.HandOff).
// sqlInsertWaiting holds, per chunk size, the insert of that many
// messages waiting for an endpoint's bundle.
// sqlInsertAttachments holds, per chunk size, the insert of that many
// attachments.
var sqlInsertMessages, sqlInsertDeliveries, sqlInsertHanded, sqlInsertWaiting = map[int]string{}, map[int]string{}, map[int]string{}, map[int]string{}
var sqlInsertAttachments = map[int]string{}

const (
	messageWidth  = 16
	deliveryWidth = 12
	waitingWidth  = 4
)

func init() {
	for _, n := range rowChunks {
		sqlInsertMessages[n] = `INSERT INTO messages
			(workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
			 sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat, skip_reason, attachments)
			VALUES ` + multiRow(n, messageWidth) + `
			ON CONFLICT (account_id, message_id) DO NOTHING RETURNING id, account_id, message_id`
		sqlInsertDeliveries[n] = `INSERT INTO deliveries
			(workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, type, due_at, created_at, lease_until, lease_owner)
			VALUES ` + multiRow(n, deliveryWidth)
		sqlInsertHanded[n] = sqlInsertDeliveries[n] + ` RETURNING id, lease_until`
		sqlInsertWaiting[n] = `INSERT INTO waiting (endpoint_id, chat_id, message_id, received_at) VALUES ` + multiRow(n, waitingWidth) +
			` ON CONFLICT DO NOTHING`
		sqlInsertAttachments[n] = `INSERT INTO attachments (` + tables.AttachmentInsertColumns + `) VALUES ` +
			multiRow(n, tables.AttachmentWidth)
		writerSQL = append(writerSQL, sqlInsertMessages[n], sqlInsertDeliveries[n], sqlInsertHanded[n], sqlInsertWaiting[n],
			sqlInsertAttachments[n])
	}
}

// chunks calls fn for consecutive chunks of n items, sized from
// rowChunks.
func chunks(n int, fn func(start, size int) error) error {
	for start := 0; start < n; {
		size := 1
		for _, c := range rowChunks {
			if c <= n-start {
				size = c
				break
			}
		}
		if err := fn(start, size); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// The statements of an ingest, prepared once per connection.
const (
	sqlDuplicateOf = `SELECT chat_id FROM messages WHERE account_id = ? AND message_id = ?`
	// The first sight of an account in a batch upserts it, which also
	// records when it last had a message, to the minute as on PostgreSQL
	// (see store.Store.Ingest): no statement of its own.
	sqlUpsertAccount = `INSERT INTO accounts (workspace_id, phone, full_name, email, last_message_at, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		ON CONFLICT (workspace_id, phone) DO UPDATE SET
			full_name = CASE WHEN excluded.full_name <> '' THEN excluded.full_name ELSE accounts.full_name END,
			email = CASE WHEN excluded.email <> '' THEN excluded.email ELSE accounts.email END,
			last_message_at = CASE WHEN excluded.last_message_at > accounts.last_message_at + 60000
				THEN excluded.last_message_at ELSE accounts.last_message_at END
		RETURNING id, full_name, email`
	sqlFindChat   = `SELECT ` + chatColumns + `, history_only FROM chats WHERE account_id = ? AND external_id = ?`
	sqlInsertChat = `INSERT INTO chats
		(workspace_id, account_id, external_id, full_name, is_group, phone, created_at, history_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING ` + chatColumns + `, history_only`
	// sqlUpdateChat writes every change a message makes to its chat (a
	// new name, phone or external id, the end of history_only) at once.
	sqlUpdateChat = `UPDATE chats SET full_name = ?, phone = ?, external_id = ?, created_at = ?, history_only = ? WHERE id = ?`
	// sqlChatPending tells whether a lane has a delivery pending: in
	// flight, waiting for a retry, or queued behind those.
	sqlChatPending = `SELECT EXISTS (SELECT 1 FROM deliveries WHERE lane = ? AND state = 'pending')`
)

// sqlIngestTarget reads the endpoints that get a workspace's events.
var sqlIngestTarget = fmt.Sprintf(tables.TargetsOf, "?")

type chatKey struct {
	account    int64
	externalID string
}

// Ingest stores msgs in one transaction, with whatever other calls wait
// meanwhile (see package group); see store.Store.
func (s *Store) Ingest(ctx context.Context, workspaceID string, now time.Time, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	return s.group.Ingest(ctx, workspaceID, now, msgs)
}

// commitGroup writes a group's batches in one transaction: one wait for
// the disk however many requests it answers.
func (s *Store) commitGroup(ctx context.Context, batches []group.Batch) ([][]chathook.IngestResult, error) {
	if err := s.turns.wait(ctx); err != nil { // claims and outcomes waiting go first
		return nil, err
	}
	tx, end, err := s.beginHot(ctx, false)
	if err != nil {
		return nil, err
	}
	defer end()
	// Looked at with the writer held: a receiver set before a claim began
	// is seen by every group after that claim, and a group before it is
	// seen by the claim, so nothing falls between them (see
	// deliver.Dispatcher.Ingested).
	var h *handing
	if r := s.hand.Load(); r != nil {
		h = &handing{r: r, began: time.Now(), lanes: map[int64]bool{}}
	}
	results := make([][]chathook.IngestResult, len(batches))
	for i, b := range batches {
		if results[i], err = s.ingest(ctx, tx, b.WorkspaceID, b.Now, b.Msgs, h); err != nil {
			return nil, err
		}
	}
	var handed []chathook.Delivery
	if h != nil && len(h.ids) > 0 {
		// Read in the transaction, on the writer, whose page cache is
		// warm: a reader's is dropped whenever anything commits, and its
		// pages read again from the file (a quarter of the CPU of a
		// message at 1,000 a second).
		if handed, err = s.loadClaimed(ctx, tx, idList(h.ids), len(h.ids)); err != nil {
			return nil, fmt.Errorf("ingest: hand over: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	end() // the writer is free before the hand-over
	if len(handed) > 0 {
		h.r.Take(handed, h.began)
	}
	return results, nil
}

// ingest writes one workspace's messages in tx.
func (s *Store) ingest(ctx context.Context, tx *sql.Tx, workspaceID string, now time.Time, msgs []chathook.Incoming, h *handing) ([]chathook.IngestResult, error) {
	// Deliveries are queued from the moment an endpoint's URL is set, as
	// Svix does: a workspace that never configures one builds no
	// backlog. A disabled endpoint still queues: it is paused, not off.
	// With a granularity, a message waits for its window's bundle instead.
	targets, err := readTargets(s.prep(ctx, tx, sqlIngestTarget).QueryContext(ctx, workspaceID))
	if err != nil {
		return nil, fmt.Errorf("ingest: endpoints of %s: %w", workspaceID, err)
	}
	it := &ingestTx{
		tx: tx, workspaceID: workspaceID, now: ms(now),
		accounts: map[string]chathook.Account{}, chats: map[chatKey]chathook.Chat{}, historyOnly: map[int64]bool{},
		targets: targets, hand: h,
	}
	if h != nil {
		it.room = map[int64]int{}
		for _, t := range targets {
			if t.Enabled {
				it.room[t.Key] = h.r.Room(t.Key)
			}
		}
	}
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{
		{&it.duplicateOf, sqlDuplicateOf},
		{&it.upsertAccount, sqlUpsertAccount}, {&it.findChat, sqlFindChat}, {&it.insChat, sqlInsertChat}, {&it.updateChat, sqlUpdateChat},
	} {
		*p.st = s.prep(ctx, tx, p.query)
	}

	// First every account and chat, in order (a later message may rename
	// a chat, and participants are derived from the chat as it is then),
	// then the messages and their deliveries, many rows a statement.
	rows := make([]messageRow, len(msgs))
	for i := range msgs {
		var err error
		if rows[i], err = it.prepare(ctx, &msgs[i]); err != nil {
			return nil, fmt.Errorf("ingest message %d: %w", i, err)
		}
	}
	return it.insert(ctx, s, rows, msgs)
}

// readTargets reads the endpoints of sqlIngestTarget.
func readTargets(rows *sql.Rows, err error) ([]tables.Target, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Targets(rows)
}

// messageRow is one message ready to insert.
type messageRow struct {
	key    messageKey
	chatID int64
	values [messageWidth]any
	facts  tables.Stored // what it tells endpoints if it is new
}

type messageKey struct {
	account   int64
	messageID string
}

// prepare resolves a message's account and chat and derives its row.
func (it *ingestTx) prepare(ctx context.Context, in *chathook.Incoming) (messageRow, error) {
	acc, err := it.account(ctx, in.Account)
	if err != nil {
		return messageRow{}, err
	}
	key := messageKey{acc.ID, in.MessageID}
	chat, isNew, err := it.chat(ctx, acc, in, key)
	if err != nil {
		return messageRow{}, err
	}
	if in.History {
		if it.historyKeys == nil {
			it.historyKeys = map[messageKey]bool{}
		}
		it.historyKeys[key] = true
	}
	sender, recipient := in.Participants(acc, chat)
	return messageRow{
		key: key, chatID: chat.ID,
		values: [messageWidth]any{it.workspaceID, acc.ID, chat.ID, in.MessageID, in.UUID, string(in.Direction),
			ms(in.Timestamp), it.now, sender.FullName, sender.Phone, recipient.FullName, recipient.Phone, in.Text,
			isNew, in.SkipReason, len(in.Attachments)},
		facts: tables.Stored{ChatID: chat.ID, AccountID: acc.ID, UUID: in.UUID, Direction: in.Direction,
			Live:    !in.History, // a history message is stored, never delivered
			Skipped: in.SkipReason != "",
			NewChat: isNew},
	}, nil
}

// insert writes the messages, tells which were new, and queues a delivery
// for each new one that wants it, in the order of the batch: delivery ids
// follow it, and with them each chat's order.
func (it *ingestTx) insert(ctx context.Context, s *Store, rows []messageRow, msgs []chathook.Incoming) ([]chathook.IngestResult, error) {
	stored := make(map[messageKey]int64, len(rows)) // the id of each message this batch stored
	err := chunks(len(rows), func(start, size int) error {
		args := make([]any, 0, size*messageWidth)
		for _, r := range rows[start : start+size] {
			args = append(args, r.values[:]...)
		}
		inserted, err := s.prep(ctx, it.tx, sqlInsertMessages[size]).QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer inserted.Close()
		for inserted.Next() {
			var id int64
			var key messageKey
			if err := inserted.Scan(&id, &key.account, &key.messageID); err != nil {
				return err
			}
			stored[key] = id
		}
		return inserted.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: messages: %w", err)
	}
	results := make([]chathook.IngestResult, len(rows))
	var queued []queuedRow // deliveries and waits, in batch order
	var fanned []tables.Queued
	var attachments []any // the values of the new messages' attachments
	firstChat := make(map[messageKey]int64, len(rows))
	for i, r := range rows {
		if _, ok := firstChat[r.key]; ok || stored[r.key] == 0 { // a repeat, in this batch or of a stored message
			chatID, ok := firstChat[r.key]
			if !ok {
				if err := it.duplicateOf.QueryRowContext(ctx, r.key.account, r.key.messageID).Scan(&chatID); err != nil {
					return nil, fmt.Errorf("ingest message %d: %w", i, err)
				}
			}
			results[i] = chathook.IngestResult{Status: chathook.Duplicate, ChatID: chatID, Reason: reasonDuplicate}
			continue
		}
		firstChat[r.key] = r.chatID
		if msgs[i].SkipReason != "" {
			results[i] = chathook.IngestResult{Status: chathook.Skipped, ChatID: r.chatID, Reason: msgs[i].SkipReason}
		} else {
			results[i] = chathook.IngestResult{Status: chathook.Accepted, ChatID: r.chatID}
		}
		id := stored[r.key]
		for pos, a := range msgs[i].Attachments {
			attachments = append(attachments, tables.AttachmentValues(it.workspaceID, r.key.account, id, pos, a, it.now)...)
		}
		if len(it.targets) > 0 {
			held := tables.Pending(msgs[i].Attachments)
			fanned = tables.FanOut(fanned[:0], it.targets, r.facts, tables.NewEventID)
			for _, q := range fanned {
				queued = append(queued, queuedRow{Queued: q, message: id, chat: r.chatID, held: held})
			}
		}
	}
	if err := it.attach(ctx, s, attachments); err != nil {
		return nil, err
	}
	if err := it.queue(ctx, s, queued); err != nil {
		return nil, err
	}
	return results, nil
}

// queuedRow is a delivery or a wait for a bundle, of a stored message.
// A held one waits for its message's attachments (see store.Media).
type queuedRow struct {
	tables.Queued
	message, chat int64
	held          bool
}

// attach writes the attachments whose values (tables.AttachmentValues)
// are given, many rows a statement.
func (it *ingestTx) attach(ctx context.Context, s *Store, values []any) error {
	const width = tables.AttachmentWidth
	err := chunks(len(values)/width, func(start, size int) error {
		_, err := s.prep(ctx, it.tx, sqlInsertAttachments[size]).ExecContext(ctx, values[start*width:(start+size)*width]...)
		return err
	})
	if err != nil {
		return fmt.Errorf("ingest: attachments: %w", err)
	}
	return nil
}

// queue writes the deliveries of queued, in order (delivery ids follow
// it, and with them each lane's order), and its waits for bundles.
func (it *ingestTx) queue(ctx context.Context, s *Store, queued []queuedRow) error {
	var deliveries, waits []queuedRow
	for _, q := range queued {
		if q.Bundle {
			waits = append(waits, q)
		} else {
			deliveries = append(deliveries, q)
		}
	}
	err := chunks(len(deliveries), func(start, size int) error {
		args := make([]any, 0, size*deliveryWidth)
		handed := false
		for _, q := range deliveries[start : start+size] {
			due, leaseUntil, owner := it.now, int64(0), ""
			if q.held {
				due = store.HeldDue
				it.hold(q.Lane)
			} else {
				var err error
				if leaseUntil, owner, err = it.lease(ctx, s, q.Target, q.Lane); err != nil {
					return err
				}
			}
			handed = handed || owner != ""
			args = append(args, it.workspaceID, q.Target.Key, q.Lane, q.chat, q.message, q.EventID, q.Kind, q.Type,
				due, it.now, leaseUntil, owner)
		}
		if !handed {
			_, err := s.prep(ctx, it.tx, sqlInsertDeliveries[size]).ExecContext(ctx, args...)
			return err
		}
		inserted, err := s.prep(ctx, it.tx, sqlInsertHanded[size]).QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer inserted.Close()
		for inserted.Next() {
			var id, leaseUntil int64
			if err := inserted.Scan(&id, &leaseUntil); err != nil {
				return err
			}
			if leaseUntil > 0 {
				it.hand.ids = append(it.hand.ids, id)
			}
		}
		return inserted.Err()
	})
	if err != nil {
		return fmt.Errorf("ingest: deliveries: %w", err)
	}
	err = chunks(len(waits), func(start, size int) error {
		args := make([]any, 0, size*waitingWidth)
		for _, q := range waits[start : start+size] {
			args = append(args, q.Target.Key, q.chat, q.message, it.now)
		}
		_, err := s.prep(ctx, it.tx, sqlInsertWaiting[size]).ExecContext(ctx, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("ingest: bundles: %w", err)
	}
	return nil
}

// lease returns the lease of a new delivery of a lane: to the receiver
// when it has room for the endpoint's deliveries and nothing of the
// lane was pending before the group (then all of the lane's deliveries
// in the group are handed, in order), else none. The one writer makes
// the check safe: no other transaction can queue for the lane meanwhile.
func (it *ingestTx) lease(ctx context.Context, s *Store, t *tables.Target, lane int64) (until int64, owner string, err error) {
	if it.hand == nil {
		return 0, "", nil
	}
	handed, seen := it.hand.lanes[lane]
	switch {
	case seen: // as the lane's first delivery in the group
	case it.room[t.Key] == 0: // a full receiver, or a disabled endpoint, costs no look at the lane
	default:
		var pending bool
		if err := s.prep(ctx, it.tx, sqlChatPending).QueryRowContext(ctx, lane).Scan(&pending); err != nil {
			return 0, "", fmt.Errorf("lane %d pending: %w", lane, err)
		}
		if handed = !pending; handed {
			it.room[t.Key]--
		}
	}
	it.hand.lanes[lane] = handed
	if !handed {
		return 0, "", nil
	}
	return it.now + it.hand.r.Lease.Milliseconds(), it.hand.r.Owner, nil
}

// hold notes a held delivery of a lane: it is never handed, and neither
// is anything of its lane after it in the group, which waits behind it.
func (it *ingestTx) hold(lane int64) {
	if it.hand != nil {
		it.hand.lanes[lane] = false
	}
}

// account creates or updates the account; names and email only change
// when the message carries them.
func (it *ingestTx) account(ctx context.Context, a chathook.Account) (chathook.Account, error) {
	if seen, ok := it.accounts[a.Phone]; ok && (a.FullName == "" || a.FullName == seen.FullName) && (a.Email == "" || a.Email == seen.Email) {
		return seen, nil
	}
	a.WorkspaceID = it.workspaceID
	err := it.upsertAccount.QueryRowContext(ctx, it.workspaceID, a.Phone, a.FullName, a.Email, it.now).Scan(&a.ID, &a.FullName, &a.Email)
	if err != nil {
		return a, fmt.Errorf("account: %w", err)
	}
	it.accounts[a.Phone] = a
	return a, nil
}

// chat returns the chat of a message's account, creating it on first
// sight, and records what the message changes of it: a new name or phone,
// the external id it now goes by (found by ChatFormerID), the end of
// history_only. isNew tells whether the message is the receiver's first
// of the chat: the live message that created it, or the first live one of
// a chat that only history messages were in.
func (it *ingestTx) chat(ctx context.Context, acc chathook.Account, in *chathook.Incoming, msg messageKey) (chat chathook.Chat, isNew bool, err error) {
	c := in.Chat
	key := chatKey{acc.ID, c.ExternalID}
	chat, ok := it.chats[key]
	if !ok {
		// Look before inserting: an INSERT that conflicts would still use
		// up a chat id, and ids are in URLs. By the former id only when
		// the current one is no chat's.
		chat, err = it.find(ctx, acc.ID, c.ExternalID)
		if errors.Is(err, chathook.ErrNotFound) && in.ChatFormerID != "" {
			former := chatKey{acc.ID, in.ChatFormerID}
			if cached, seen := it.chats[former]; seen {
				chat, err = cached, nil
				delete(it.chats, former)
			} else {
				chat, err = it.find(ctx, acc.ID, in.ChatFormerID)
			}
		}
		if errors.Is(err, chathook.ErrNotFound) {
			name := c.FullName
			if name == "" { // a chat is never nameless in the UI: fall back to its number or id
				name = cmp.Or(c.Phone, c.ExternalID)
			}
			// The writer is the only connection: nobody inserts it meanwhile.
			var historyOnly bool
			chat, err = scanChat(it.insChat.QueryRowContext(ctx, it.workspaceID, acc.ID, c.ExternalID, name, c.IsGroup, c.Phone, it.now,
				in.History), &historyOnly)
			if err != nil {
				return chat, false, fmt.Errorf("chat: %w", err)
			}
			it.historyOnly[chat.ID] = historyOnly
			it.chats[key] = chat
			return chat, !in.History, nil
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
	// A skipped message (an attachment) is never delivered in the seed
	// format: the receiver hears of the chat with the first message it
	// is sent. (Event endpoints get it, but chat:created keeps this rule.)
	if !in.History && in.SkipReason == "" && it.historyOnly[chat.ID] {
		// A live copy of a stored history message is a duplicate, not the
		// chat's first live message.
		if isNew, err = it.notStored(ctx, msg); err != nil {
			return chat, false, err
		}
		if isNew {
			// The receiver hears of the chat now: a bundle's is_new_chat,
			// which looks at created_at, agrees.
			chat.CreatedAt, changed = fromMS(it.now), true
			it.historyOnly[chat.ID] = false
		}
	}
	if changed {
		if _, err := it.updateChat.ExecContext(ctx, chat.FullName, chat.Phone, chat.ExternalID, ms(chat.CreatedAt),
			it.historyOnly[chat.ID], chat.ID); err != nil {
			return chat, false, fmt.Errorf("update chat: %w", err)
		}
	}
	it.chats[key] = chat
	return chat, isNew, nil
}

// find reads a chat of the account by external id, and whether only
// history messages are in it.
func (it *ingestTx) find(ctx context.Context, accountID int64, externalID string) (chathook.Chat, error) {
	var historyOnly bool
	chat, err := scanChat(it.findChat.QueryRowContext(ctx, accountID, externalID), &historyOnly)
	if err == nil {
		it.historyOnly[chat.ID] = historyOnly
	}
	return chat, err
}

// notStored reports whether a message is neither stored nor earlier in
// the batch as a history message.
func (it *ingestTx) notStored(ctx context.Context, msg messageKey) (bool, error) {
	if it.historyKeys[msg] {
		return false, nil
	}
	var chatID int64
	err := it.duplicateOf.QueryRowContext(ctx, msg.account, msg.messageID).Scan(&chatID)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("chat: %w", err)
	}
	return false, nil
}
