package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// The chat list's benchmarks run on a database of their own,
// benchDatabase, built once (a few minutes) and kept between runs: one
// workspace of benchChats chats over two accounts and 10 messages a
// chat. Drop the database to build it again.
const (
	benchDatabase = "chathook_bench_inbox"
	benchChats    = 100_000
	benchMessages = 1_000_000
	benchVersion  = "1" // of the data below: a change builds it again
)

// benchData builds the data with INSERT ... SELECT generate_series:
// texts of a few common words, "hello" in 3 messages of 10, "zebra" in
// 10 messages, names of 20 first names, phones +1555 and 7 digits.
const benchData = `
INSERT INTO chats (id, workspace_id, account_id, external_id, full_name, phone, created_at)
SELECT 20000000 + i, $1::text, CASE WHEN i % 4 = 0 THEN $3::bigint ELSE $2::bigint END, '+1555' || lpad(i::text, 7, '0'),
	(ARRAY['Olga','Ivan','Sara','David','Maria','Anna','Boris','Carol','Dmitri','Eve','Fatima','George','Hana',
		'Igor','Julia','Karl','Lena','Moshe','Nina','Oscar'])[1 + i % 20] || ' ' ||
	(ARRAY['Petrova','Cohen','Smith','Levi','Garcia','Novak','Schmidt','Rossi','Kim','Silva'])[1 + (i / 20) % 10] || ' ' || i,
	'+1555' || lpad(i::text, 7, '0'), 1700000000000
FROM generate_series(1, 100000) i;
DROP INDEX messages_words;
INSERT INTO messages (workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
	sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat)
SELECT $1::text, c.account_id, c.id, 'bench-' || i, 'bench-' || i, CASE WHEN i % 3 = 0 THEN 'sent' ELSE 'received' END,
	1700000000000 + (i::bigint * 7919 % 1000000) * 1000, 1700000000000 + i, '', '', '', '',
	CASE WHEN i % 10 < 3 THEN 'hello ' ELSE '' END ||
	(ARRAY['thanks','order','delivery','price','tomorrow','please','invoice','payment','address','call'])[1 + i * 7 % 10] || ' ' ||
	(ARRAY['today','ready','shipped','waiting','confirmed','cancelled','paid','late','soon','now'])[1 + i * 13 % 10] ||
	' item' || (i % 5000) || CASE WHEN i % 100000 = 4242 THEN ' zebra' ELSE '' END, false
FROM generate_series(1, 1000000) i JOIN chats c ON c.id = 20000000 + 1 + i % 100000;
UPDATE messages SET words = array_to_tsvector(array_remove(regexp_split_to_array(lower(text), '[^[:alnum:]]+'), ''))
WHERE message_id LIKE 'bench-%';
UPDATE chats SET name_words = array_to_tsvector(array_remove(regexp_split_to_array(lower(full_name), '[^[:alnum:]]+'), ''))
WHERE id > 20000000;
CREATE INDEX messages_words ON messages USING gin (words) WITH (fastupdate = on) WHERE deleted_at = 0;
UPDATE chats c SET last_sent_at = l.sent_at, last_message_id = l.id
FROM (SELECT DISTINCT ON (chat_id) chat_id, sent_at, id FROM messages ORDER BY chat_id, sent_at DESC, id DESC) l
WHERE l.chat_id = c.id;
SELECT setval(pg_get_serial_sequence('chats', 'id'), 30000000);
CREATE TABLE bench_meta (version text NOT NULL, workspace_id text NOT NULL, user_id bigint NOT NULL)`

// benchStore opens the benchmark database, building it first if needed,
// and returns its workspace and a user who has read some chats.
func benchStore(b *testing.B) (*postgres.Store, string, int64) {
	b.Helper()
	ctx := context.Background()
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		b.Fatal(err)
	}
	pgtest.URL(b) // skips, or fails under CI, when the server is not there
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+benchDatabase); err != nil && !pgErrorCode(err, "42P04") {
		b.Fatal(err)
	}
	u.Path = "/" + benchDatabase
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	var version, ws string
	var user int64
	err = st.QueryRowForTest(ctx, `SELECT version, workspace_id, user_id FROM bench_meta`).Scan(&version, &ws, &user)
	if err == nil && version == benchVersion {
		return st, ws, user
	}
	if err == nil || !pgErrorCode(err, "42P01") { // another version, or no such table
		b.Fatalf("%s holds data of another version (%q, %v): drop it", benchDatabase, version, err)
	}
	b.Logf("building %s: %d chats, %d messages", benchDatabase, benchChats, benchMessages)
	ws = newWorkspace(b, st)
	// Two accounts, each by a message of its own.
	first, second := benchIncoming("+15550000001", 1), benchIncoming("+15550000002", 2)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{first, second}); err != nil {
		b.Fatal(err)
	}
	var a1, a2 int64
	if err := st.QueryRowForTest(ctx, `SELECT min(id), max(id) FROM accounts WHERE workspace_id = $1`, ws).Scan(&a1, &a2); err != nil {
		b.Fatal(err)
	}
	if _, err := st.ExecForTest(ctx, benchData, pgx.QueryExecModeSimpleProtocol, ws, a1, a2); err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{"chats", "messages"} {
		if _, err := st.ExecForTest(ctx, `VACUUM ANALYZE `+table); err != nil {
			b.Fatal(err)
		}
	}
	usr, err := st.CreateUser(ctx, chathook.User{WorkspaceID: ws, Email: "bench@example.com", CreatedAt: t0}, []byte("x"))
	if err != nil {
		b.Fatal(err)
	}
	// The user has read every other chat up to its 5th message.
	if _, err := st.ExecForTest(ctx, `INSERT INTO read_marks (user_id, chat_id, message_id)
		SELECT $1, chat_id, min(id) + 4 FROM messages WHERE chat_id % 2 = 0 GROUP BY chat_id`, usr.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := st.ExecForTest(ctx, `INSERT INTO bench_meta VALUES ($1, $2, $3)`, benchVersion, ws, usr.ID); err != nil {
		b.Fatal(err)
	}
	return st, ws, usr.ID
}

func benchIncoming(account string, c int) chathook.Incoming {
	return chathook.Incoming{
		Account:   chathook.Account{Phone: account, FullName: "Desk"},
		Chat:      chathook.Chat{ExternalID: "+1444000000" + string(rune('0'+c)), FullName: "Setup"},
		MessageID: "setup-" + account, UUID: "setup-" + account, Direction: chathook.Received, Timestamp: t0, Text: "setup",
	}
}

// BenchmarkChats reads one page of 50 chats of the chat list, on 100,000
// chats and 1,000,000 messages.
func BenchmarkChats(b *testing.B) {
	st, ws, user := benchStore(b)
	ctx := context.Background()
	// The deep page starts half way down the list.
	var deep store.Position
	var at int64
	if err := st.QueryRowForTest(ctx, `SELECT last_sent_at, last_message_id FROM chats WHERE workspace_id = $1
		ORDER BY last_sent_at DESC, last_message_id DESC OFFSET 50000 LIMIT 1`, ws).Scan(&at, &deep.ID); err != nil {
		b.Fatal(err)
	}
	deep.At = time.UnixMilli(at).UTC()
	var account int64
	if err := st.QueryRowForTest(ctx, `SELECT max(account_id) FROM chats WHERE workspace_id = $1`, ws).Scan(&account); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		q     store.ChatQuery
		found bool // whether a page of results is expected
	}{
		{"first page", store.ChatQuery{}, true},
		{"deep page", store.ChatQuery{Before: deep}, true},
		{"previous page", store.ChatQuery{After: deep}, true},
		{"account", store.ChatQuery{AccountID: account}, true},
		{"unread", store.ChatQuery{UserID: user}, true},
		{"search common word", store.ChatQuery{Search: "hello"}, true},
		{"search two words", store.ChatQuery{Search: "payment wait"}, true},
		{"search rare word", store.ChatQuery{Search: "zebra"}, true},
		{"search no match", store.ChatQuery{Search: "xylophone"}, false},
		{"search name prefix", store.ChatQuery{Search: "olg"}, true},
		{"search phone digits", store.ChatQuery{Search: "555 004 2424"}, true},
		{"search common word, account, unread", store.ChatQuery{Search: "hello", AccountID: account, UserID: user}, true},
	} {
		c.q.Limit = 50
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				got, err := st.Chats(ctx, ws, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if c.found != (len(got) > 0) {
					b.Fatalf("%d chats", len(got))
				}
			}
		})
	}
}
