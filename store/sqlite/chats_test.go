package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/storetest"
	"github.com/google/uuid"
)

// chatsStore is a store with one workspace of 30 chats: chat c has c
// messages, "hello" in every third message of the store, "ticket" in
// chat 7's first message, chat 11 named "Zoe Ticketmaster".
func chatsStore(t *testing.T) (*Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := uuid.NewString()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := st.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "a", OwnerEmail: "a@example.com", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	var batch []chathook.Incoming
	for c := 1; c <= 30; c++ {
		for n := 1; n <= c; n++ {
			m := storetest.Message(c, n)
			// Chats interleave in time, each message at its own minute.
			m.Timestamp = t0.Add(time.Duration((n*37+c*11)%600) * time.Minute)
			if (c+n)%3 == 0 {
				m.Text = "hello there " + m.Text
			}
			if c == 7 && n == 1 {
				m.Text = "my ticket is lost"
			}
			if c == 11 {
				m.Chat.FullName = "Zoe Ticketmaster"
			}
			batch = append(batch, m)
		}
	}
	if _, err := st.Ingest(ctx, ws, t0, batch); err != nil {
		t.Fatal(err)
	}
	return st, ws
}

// pages reads every page of q, 4 chats a page, each chat as its id and
// its match's id.
func pages(t *testing.T, st *Store, ws string, q store.ChatQuery) []string {
	t.Helper()
	q.Limit = 4
	var out []string
	for {
		got, err := st.Chats(context.Background(), ws, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			out = append(out, fmt.Sprintf("%d:%d", c.ID, c.Match.ID))
		}
		if len(got) < q.Limit {
			return out
		}
		q.Before = store.ActivityOf(got[len(got)-1])
	}
}

// A search whose words are in many messages walks the list instead of
// reading the hits' chats (see rareHits): both give the same pages, the
// same matches.
func TestChatSearchWalksTheListForCommonWords(t *testing.T) {
	st, ws := chatsStore(t)
	for _, search := range []string{"hello", "hel th", "message 2", "ticket", "1000007", "zzz"} {
		rareHits = 1 << 30
		byHits := pages(t, st, ws, store.ChatQuery{Search: search})
		rareHits = 0
		walked := pages(t, st, ws, store.ChatQuery{Search: search})
		rareHits = defaultRareHits
		if !slices.Equal(byHits, walked) {
			t.Errorf("search %q: from the hits %v, walked %v", search, byHits, walked)
		}
		if search != "zzz" && len(byHits) == 0 {
			t.Errorf("search %q found nothing", search)
		}
	}
	if got := pages(t, st, ws, store.ChatQuery{Search: "ticket"}); len(got) != 2 || strings.HasSuffix(got[0], ":0") == strings.HasSuffix(got[1], ":0") {
		t.Errorf("ticket: %v, want chat 7 by its text and chat 11 by its name", got)
	}
}

// An edited message is found by its new text only.
func TestChatSearchFindsEditedText(t *testing.T) {
	st, ws := chatsStore(t)
	ctx := context.Background()
	all, err := st.Chats(ctx, ws, store.ChatQuery{Search: "ticket lost", Limit: 10})
	if err != nil || len(all) != 1 {
		t.Fatalf("before the edit: %d, %v", len(all), err)
	}
	m := storetest.Message(7, 1)
	if _, _, err := st.RecordFacts(ctx, all[0].AccountID, time.Now(), []chathook.Fact{{Kind: chathook.FactEdited,
		Chat: m.Chat.ExternalID, MessageID: m.MessageID, ID: "edit-1", At: time.Now(), Text: "my parcel arrived"}}); err != nil {
		t.Fatal(err)
	}
	for search, want := range map[string]int{"ticket lost": 0, "parcel arr": 1} {
		got, err := st.Chats(ctx, ws, store.ChatQuery{Search: search, Limit: 10})
		if err != nil || len(got) != want {
			t.Errorf("after the edit, %q: %d chats (%v), want %d", search, len(got), err, want)
		}
	}
}

// Every page of the chat list, with or without a search, account or
// cursor, is a range of an activity index: never a scan of chats, never
// a sort.
func TestChatPagesUseActivityIndexes(t *testing.T) {
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := store.Position{At: time.Now(), ID: 5}
	for _, q := range []store.ChatQuery{
		{}, {Before: at}, {After: at}, {AccountID: 3}, {AccountID: 3, Before: at}, {AccountID: 3, After: at},
		{Search: "olga"}, {Search: "+1 555 100"}, {Search: "olga", AccountID: 3, Before: at},
	} {
		for _, common := range []bool{false, true} {
			q.Limit = 50
			query, args := chatPageSQL("ws", q, parseSearch(q.Search), common)
			plan := explain(t, st, query, args...)
			if !strings.Contains(plan, "_activity") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN c\n") {
				t.Errorf("%+v, common %v:\n%s", q, common, plan)
			}
		}
	}
	if plan := explain(t, st, sqlChatRow+` WHERE c.id IN (SELECT value FROM json_each(?2))`, 1, "[1]"); strings.Contains(plan, "SCAN m") ||
		strings.Contains(plan, "SCAN c\n") || !strings.Contains(plan, "messages_received") {
		t.Errorf("chat rows:\n%s", plan)
	}
}

// explain returns the plan of query, a step a line.
func explain(t *testing.T, st *Store, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := st.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := findHits(ctx, conn, `"x"*`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%v:\n%s", err, query)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}

// Words FTS5's tokenizer splits differently from Go (letters newer than
// its Unicode tables, joiners, soft hyphens) are still searched, not
// refused as FTS5 syntax.
func TestChatSearchTakesAnyLetters(t *testing.T) {
	st, ws := chatsStore(t)
	for _, s := range []string{"a\u0870b", "x\U0001E290y", "hel\u00adlo", "日本語テキスト", "a\u200db", "𝔸bc", "ǅemal"} {
		for _, common := range []int{defaultRareHits, 0} {
			rareHits = common
			if _, err := st.Chats(context.Background(), ws, store.ChatQuery{Search: s, Limit: 5}); err != nil {
				t.Errorf("search %q: %v", s, err)
			}
		}
		rareHits = defaultRareHits
	}
}

// A renamed chat is found by its new name only.
func TestChatSearchFindsNewName(t *testing.T) {
	st, ws := chatsStore(t)
	ctx := context.Background()
	m := storetest.Message(11, 100)
	m.Chat.FullName = "Yusuf Harbour"
	if _, err := st.Ingest(ctx, ws, time.Now(), []chathook.Incoming{m}); err != nil {
		t.Fatal(err)
	}
	for search, want := range map[string]int{"zoe ticketm": 0, "yusuf harb": 1} {
		got, err := st.Chats(ctx, ws, store.ChatQuery{Search: search, Limit: 10})
		if err != nil || len(got) != want {
			t.Errorf("after the rename, %q: %d chats (%v), want %d", search, len(got), err, want)
		}
	}
}
