package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
)

// The chat list's scale (issue 29): 100,000 chats of 4 accounts and
// 1,000,000 messages in one workspace.
const (
	benchChats    = 100_000
	benchMessages = 1_000_000
	benchAccounts = 4
	// benchVersion names the cached database: change it when the data or
	// the schema it is built with changes.
	benchVersion = "chatlist-v2"
)

// benchWorkspace is the workspace of the chat list benchmarks.
const benchWorkspace = "bench-chatlist"

// chatListStore opens the benchmarks' database, building it the first
// time (a minute or two) and keeping it under os.TempDir for the next
// run. Message i is in chat i·7919 mod 100,000, sent i seconds after t0,
// one in three sent by the account; its text is six words of a 20,000
// word vocabulary, "hello" in one message in ten and "zanzibar" in five
// messages in all. Chats are named by two of 2,000 names; their phones
// are +1555 and seven digits. A user has read half the chats up to
// their last message but 20 (by id).
func chatListStore(b *testing.B) (*sqlite.Store, chathook.User) {
	path := filepath.Join(os.TempDir(), "chathook-"+benchVersion+".db")
	if _, err := os.Stat(path); err != nil {
		b.Logf("building %s", path)
		tmp := path + ".building"
		os.Remove(tmp)
		os.Remove(tmp + "-wal")
		os.Remove(tmp + "-shm")
		buildChatList(b, tmp)
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	st := open(b, path)
	var u chathook.User
	err := st.QueryRowForTest(context.Background(), `SELECT id FROM users WHERE email = 'olga@bench.example'`).Scan(&u.ID)
	if err != nil {
		b.Fatal(err)
	}
	return st, u
}

// benchWords returns n made-up lowercase words of 3 to 9 letters.
func benchWords(r *rand.Rand, n int) []string {
	seen := map[string]bool{"hello": true, "zanzibar": true}
	var out []string
	for len(out) < n {
		w := make([]byte, 3+r.IntN(7))
		for i := range w {
			w[i] = byte('a' + r.IntN(26))
		}
		if !seen[string(w)] {
			seen[string(w)] = true
			out = append(out, string(w))
		}
	}
	return out
}

func buildChatList(b *testing.B, path string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: benchWorkspace, Name: "bench", OwnerEmail: "o@bench.example", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		b.Fatal(err)
	}
	u, err := st.CreateUser(ctx, chathook.User{WorkspaceID: benchWorkspace, Email: "olga@bench.example", Name: "Olga", CreatedAt: t0}, []byte("hash"))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	quoted := func(words []string) string {
		rows := make([]string, len(words))
		for i, w := range words {
			rows[i] = fmt.Sprintf("(%d, '%s')", i, w)
		}
		return strings.Join(rows, ", ")
	}
	names := benchWords(r, 2000)
	for i, n := range names {
		names[i] = strings.ToUpper(n[:1]) + n[1:]
	}
	exec := func(q string) {
		b.Helper()
		if _, err := st.ExecForTest(ctx, q); err != nil {
			b.Fatalf("%v:\n%.300s", err, q)
		}
	}
	exec(`CREATE TEMP TABLE vocab (n INTEGER PRIMARY KEY, w TEXT)`)
	exec(`INSERT INTO vocab VALUES ` + quoted(benchWords(r, 20000)))
	exec(`CREATE TEMP TABLE names (n INTEGER PRIMARY KEY, w TEXT)`)
	exec(`INSERT INTO names VALUES ` + quoted(names))
	start := t0.UnixMilli()
	exec(fmt.Sprintf(`INSERT INTO accounts (id, workspace_id, phone, full_name, created_at)
		SELECT value, '%s', '+1444000000' || value, 'Desk ' || value, %d FROM `+series(1, benchAccounts), benchWorkspace, start))
	exec(fmt.Sprintf(`INSERT INTO chats (workspace_id, account_id, external_id, full_name, phone, created_at)
		SELECT '%[1]s', 1 + value %% %[2]d, '+1555' || printf('%%07d', value),
			(SELECT w FROM names WHERE n = value * 7 %% 2000) || ' ' || (SELECT w FROM names WHERE n = value * 13 %% 1999),
			'+1555' || printf('%%07d', value), %[3]d
		FROM `+series(0, benchChats-1), benchWorkspace, benchAccounts, start))
	var first int64
	if err := st.QueryRowForTest(ctx, `SELECT min(id) FROM chats`).Scan(&first); err != nil {
		b.Fatal(err)
	}
	const step = 100_000
	for lo := 0; lo < benchMessages; lo += step {
		exec(fmt.Sprintf(`INSERT INTO messages (workspace_id, account_id, chat_id, message_id, uuid, direction, sent_at, received_at,
				sender_name, sender_phone, recipient_name, recipient_phone, text, is_new_chat)
			SELECT '%[1]s', c.account_id, c.id, 'm' || g.value, 'u' || g.value,
				CASE WHEN g.value %% 3 = 0 THEN 'sent' ELSE 'received' END, %[2]d + g.value * 1000, %[2]d + g.value * 1000,
				c.full_name, c.phone, 'Desk', '', 
				CASE WHEN g.value %% 10 = 0 THEN 'hello ' ELSE '' END ||
				(SELECT w FROM vocab WHERE n = g.value * 31 %% 20000) || ' ' || (SELECT w FROM vocab WHERE n = g.value * 37 %% 19997) || ' ' ||
				(SELECT w FROM vocab WHERE n = g.value * 41 %% 19991) || ' ' || (SELECT w FROM vocab WHERE n = g.value * 43 %% 19993) || ' ' ||
				(SELECT w FROM vocab WHERE n = g.value * 47 %% 19979) || ' ' || (SELECT w FROM vocab WHERE n = g.value * 53 %% 19973) ||
				CASE WHEN g.value %% 200000 = 777 THEN ' zanzibar' ELSE '' END, 0
			FROM `+series(lo, lo+step-1)+` g JOIN chats c ON c.id = %[3]d + g.value * 7919 %% %[4]d`,
			benchWorkspace, start, first, benchChats))
	}
	exec(fmt.Sprintf(`INSERT INTO chat_reads (user_id, chat_id, message_id)
		SELECT %d, id, last_message_id - 20 FROM chats WHERE id %% 2 = 0`, u.ID))
	exec(`ANALYZE`)
	exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
}

// series is a subquery of the integers lo to hi, as value.
func series(lo, hi int) string {
	return fmt.Sprintf(`(WITH RECURSIVE s (value) AS (SELECT %d UNION ALL SELECT value + 1 FROM s WHERE value < %d) SELECT value FROM s)`, lo, hi)
}

// BenchmarkChatList is a page of 50 of the chat list at 100,000 chats
// and 1,000,000 messages: the first, one half way down, one account's,
// and the first with unread counts for a user.
func BenchmarkChatList(b *testing.B) {
	st, u := chatListStore(b)
	ctx := context.Background()
	var deep store.Position
	var at int64
	err := st.QueryRowForTest(ctx, `SELECT last_sent_at, last_message_id FROM chats ORDER BY last_sent_at DESC, last_message_id DESC
		LIMIT 1 OFFSET 50000`).Scan(&at, &deep.ID)
	if err != nil {
		b.Fatal(err)
	}
	deep.At = time.UnixMilli(at)
	var account int64
	if err := st.QueryRowForTest(ctx, `SELECT min(id) FROM accounts`).Scan(&account); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    store.ChatQuery
	}{
		{"first-page", store.ChatQuery{}},
		{"deep-page", store.ChatQuery{Before: deep}},
		{"deep-page-back", store.ChatQuery{After: deep}},
		{"account", store.ChatQuery{AccountID: account}},
		{"unread", store.ChatQuery{UserID: u.ID}},
	} {
		b.Run(c.name, func(b *testing.B) { pageChats(b, st, c.q) })
	}
}

// BenchmarkChatSearch is the first page of 50 of a search at 100,000
// chats and 1,000,000 messages: a word in one message in ten, a word in
// five, a word of the vocabulary (about 300 messages), a name prefix,
// a phone number's digits, and two words.
func BenchmarkChatSearch(b *testing.B) {
	st, u := chatListStore(b)
	ctx := context.Background()
	var name, word string
	if err := st.QueryRowForTest(ctx, `SELECT full_name FROM chats ORDER BY id LIMIT 1 OFFSET 777`).Scan(&name); err != nil {
		b.Fatal(err)
	}
	if err := st.QueryRowForTest(ctx, `SELECT text FROM messages WHERE id = 4242`).Scan(&word); err != nil {
		b.Fatal(err)
	}
	words := strings.Fields(word)
	for _, c := range []struct{ name, search string }{
		{"common-word", "hello"},
		{"rare-word", "zanzibar"},
		{"vocabulary-word", words[len(words)-1]},
		{"name-prefix", name[:4]},
		{"phone-digits", "555 004 21"},
		{"two-words", words[len(words)-2] + " " + words[len(words)-1][:3]},
		{"common-prefix", "he"},
	} {
		b.Run(c.name, func(b *testing.B) { pageChats(b, st, store.ChatQuery{Search: c.search, UserID: u.ID}) })
	}
}

func pageChats(b *testing.B, st *sqlite.Store, q store.ChatQuery) {
	ctx := context.Background()
	q.Limit = 50
	got, err := st.Chats(ctx, benchWorkspace, q)
	if err != nil || len(got) == 0 {
		b.Fatalf("%+v: %d chats, %v", q, len(got), err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := st.Chats(ctx, benchWorkspace, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
	b.ReportMetric(float64(len(got)), "chats")
}
