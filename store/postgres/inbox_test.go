package postgres_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/storetest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// chatNames lists the chats of ws by their external ids, as Chats orders
// them.
func chatNames(t *testing.T, st store.Store, ws string, q store.ChatQuery) []string {
	t.Helper()
	q.Limit = 100
	got, err := st.Chats(context.Background(), ws, q)
	if err != nil {
		t.Fatalf("chats %+v: %v", q, err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.ExternalID)
	}
	return names
}

// Two instances ingest into the same chats at once, messages arriving
// in no order: every chat's latest is still its latest message in
// timeline order, as the messages table has it.
func TestChatLatestUnderConcurrentIngest(t *testing.T) {
	url := pgtest.URL(t)
	a, _ := openCounting(t, url, 2)
	b, _ := openCounting(t, url, 2)
	ctx := context.Background()
	ws := newWorkspace(t, a)
	const chats, perCaller, callers = 4, 20, 16
	var wg sync.WaitGroup
	for i := range callers {
		st := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for n := range perCaller {
				var batch []chathook.Incoming
				for c := range chats {
					m := storetest.Message(c, i*perCaller+n)
					m.Timestamp = t0.Add(time.Duration(r.IntN(1000)) * time.Second)
					batch = append(batch, m)
				}
				if _, err := st.Ingest(ctx, ws, t0, batch); err != nil {
					t.Errorf("caller %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var wrong int
	if err := a.QueryRowForTest(ctx, `SELECT count(*) FROM chats c WHERE NOT EXISTS (SELECT FROM
		(SELECT sent_at, id FROM messages WHERE chat_id = c.id ORDER BY sent_at DESC, id DESC LIMIT 1) l
		WHERE l.sent_at = c.last_sent_at AND l.id = c.last_message_id)`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("%d of %d chats do not have their latest message as latest", wrong, chats)
	}
}

// The migration fills a chat's latest message and the words of names and
// texts for what was stored before it.
func TestInboxMigrationBackfills(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	st := open(t, url)
	ws := newWorkspace(t, st)
	for c := 1; c <= 3; c++ {
		m := storetest.Message(c, 1)
		m.Timestamp = t0.Add(time.Duration(c) * time.Minute)
		m.Chat.FullName = []string{"", "Customer Anna", "Customer Boris", "Customer Carl"}[c]
		if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m}); err != nil {
			t.Fatal(err)
		}
	}
	old := storetest.Message(3, 0) // from history: not chat 3's latest
	old.Text = "Кириллица TEXT"
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{old}); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before the migration: its columns, index and
	// table gone, the data kept.
	if _, err := st.ExecForTest(ctx, `DROP TABLE read_marks;
		ALTER TABLE chats DROP COLUMN last_sent_at, DROP COLUMN last_message_id, DROP COLUMN name_words;
		ALTER TABLE messages DROP COLUMN words;
		CREATE INDEX chats_workspace ON chats (workspace_id, id);
		DELETE FROM schema_migrations WHERE version = '0017_inbox'`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, url)
	if got, want := chatNames(t, st, ws, store.ChatQuery{}), []string{"+15551000003", "+15551000002", "+15551000001"}; !slices.Equal(got, want) {
		t.Errorf("after the backfill: %v, want %v", got, want)
	}
	if got := chatNames(t, st, ws, store.ChatQuery{Search: "customer bor"}); !slices.Equal(got, []string{"+15551000002"}) {
		t.Errorf("name after the backfill: %v", got)
	}
	if got := chatNames(t, st, ws, store.ChatQuery{Search: "text"}); !slices.Equal(got, []string{"+15551000003"}) {
		t.Errorf("text after the backfill: %v", got)
	}
}

// cLocale returns a URL of a fresh schema in a database whose lc_ctype
// is C, as some production servers are, created once and kept.
func cLocale(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE DATABASE chathook_test_c TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE 'C' LC_COLLATE 'C'`)
	if err != nil && !pgErrorCode(err, "42P04") { // it exists
		t.Fatal(err)
	}
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/chathook_test_c"
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	schema := "chathook_test_" + uuid.NewString()[:8]
	if _, err := c.Exec(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), u.String()); err == nil {
			_, _ = c.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`)
			c.Close(context.Background())
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func pgErrorCode(err error, code string) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == code
}

// Words are found without regard to case in any script, also where
// the database's locale knows only ASCII.
func TestChatSearchUnderCLocale(t *testing.T) {
	st := open(t, cLocale(t))
	ctx := context.Background()
	var lc string
	if err := st.QueryRowForTest(ctx, `SHOW lc_ctype`).Scan(&lc); err != nil || lc != "C" {
		t.Fatalf("lc_ctype %q, %v", lc, err)
	}
	ws := newWorkspace(t, st)
	for c, l := range []struct{ name, text string }{
		{"ДМИТРИЙ Орлов", "Привет, как ДЕЛА?"},
		{"שרה כהן", "בטח—זה יעלה 120₪"},
		{"Ölçer", "ÜBER straße"},
	} {
		m := storetest.Message(c+1, 1)
		m.Chat.FullName, m.Text = l.name, l.text
		if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		search string
		want   string
	}{
		{"дмит", "+15551000001"},
		{"дела", "+15551000001"},
		{"ПРИВ", "+15551000001"},
		{"זה", "+15551000002"},
		{"120", "+15551000002"},
		{"öl", "+15551000003"},
		{"über STRAßE", "+15551000003"},
	} {
		got := chatNames(t, st, ws, store.ChatQuery{Search: c.search})
		if want := []string{c.want}; c.want == "" && len(got) != 0 || c.want != "" && !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %q", c.search, got, c.want)
		}
	}
	// "₪" is no letter: "120₪" is the word 120, not 120₪.
	if got := chatNames(t, st, ws, store.ChatQuery{Search: "120₪x"}); len(got) != 0 {
		t.Errorf("search 120₪x: %v", got)
	}
}

// A reply moves its chat to the top, as an ingested message does; an
// edited message is found by its new text only.
func TestChatListFollowsRepliesAndEdits(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	first, second := storetest.Message(1, 1), storetest.Message(2, 1)
	first.Text, second.Timestamp = "the parcel left today", t0.Add(time.Minute)
	res, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{first, second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.NewString(), WorkspaceID: ws, ChatID: res[0].ChatID,
		Text: "thanks", SentBy: chathook.Teammate{FullName: "Jane", Email: "jane@example.com"}}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := chatNames(t, st, ws, store.ChatQuery{}); !slices.Equal(got, []string{"+15551000001", "+15551000002"}) {
		t.Errorf("after a reply to chat 1: %v", got)
	}
	all, err := st.Chats(ctx, ws, store.ChatQuery{Limit: 1})
	if err != nil || all[0].Last.Text != "thanks" {
		t.Fatalf("chat 1's last %+v, %v", all, err)
	}
	if _, _, err := st.RecordFacts(ctx, all[0].AccountID, t0.Add(2*time.Hour), []chathook.Fact{{Kind: chathook.FactEdited,
		Chat: first.Chat.ExternalID, MessageID: first.MessageID, ID: "edit-1", Text: "the parcel arrives tomorrow",
		At: t0.Add(2 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if got := chatNames(t, st, ws, store.ChatQuery{Search: "parcel tomorrow"}); !slices.Equal(got, []string{"+15551000001"}) {
		t.Errorf("by the edited text: %v", got)
	}
	if got := chatNames(t, st, ws, store.ChatQuery{Search: "today"}); len(got) != 0 {
		t.Errorf("by the text before the edit: %v", got)
	}
}

// A mark names a message of its chat: another chat's cannot mark it read.
func TestMarkReadTakesOnlyTheChatsMessages(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	u, err := st.CreateUser(ctx, chathook.User{WorkspaceID: ws, Email: "olga@example.com", CreatedAt: t0}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{storetest.Message(1, 1), storetest.Message(2, 1), storetest.Message(2, 2)})
	if err != nil {
		t.Fatal(err)
	}
	later, err := st.Messages(ctx, ws, res[1].ChatID, store.Page{Limit: 10})
	if err != nil || len(later) != 2 {
		t.Fatalf("chat 2: %v, %v", later, err)
	}
	if err := st.MarkRead(ctx, ws, u.ID, res[0].ChatID, later[1].ID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("chat 1 read up to chat 2's message: %v, want ErrNotFound", err)
	}
	if err := st.MarkRead(ctx, ws, u.ID, res[1].ChatID, later[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err := st.Chats(ctx, ws, store.ChatQuery{UserID: u.ID, Limit: 10})
	if err != nil || got[0].ID != res[1].ChatID || got[0].Unread != 1 || got[1].Unread != 1 {
		t.Errorf("unread %+v, %v: want 1 in each chat", got, err)
	}
}

// A search answers the same whether it gathers its few matches or, for
// common words, walks the list: with one match taken as many, every
// search walks.
func TestChatSearchGathersOrWalksAlike(t *testing.T) {
	st := open(t, pgtest.URL(t))
	ctx := context.Background()
	ws := newWorkspace(t, st)
	for c, l := range []struct{ name, text string }{
		{"Olga Petrova", "invoice 4411 ready"},
		{"Bob", "no invoices here"},
		{"Carol", "call me"},
		{"Invoice Desk", "hello"},
	} {
		m := storetest.Message(c+1, 1)
		m.Chat.FullName, m.Text, m.Timestamp = l.name, l.text, t0.Add(time.Duration(c)*time.Minute)
		if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m}); err != nil {
			t.Fatal(err)
		}
	}
	searches := []string{"inv", "invoice ready", "olg", "4411", "1000003", "555 100", "nobody", "+1 (555) 100-0002"}
	gathered := map[string][]string{}
	for _, s := range searches {
		gathered[s] = chatNames(t, st, ws, store.ChatQuery{Search: s})
	}
	if got := gathered["inv"]; !slices.Equal(got, []string{"+15551000004", "+15551000002", "+15551000001"}) {
		t.Fatalf("gathered inv: %v", got)
	}
	postgres.SetFewMatchesForTest(t, 0)
	for _, s := range searches {
		if got := chatNames(t, st, ws, store.ChatQuery{Search: s}); !slices.Equal(got, gathered[s]) {
			t.Errorf("search %q walked: %v, gathered: %v", s, got, gathered[s])
		}
	}
}
