package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
)

// web are the tests of users, sessions and the chat pages' reads.
var web = map[string]func(*testing.T, store.Store){
	"UsersAreUniqueByEmailInAnyCase":  testUsersAreUniqueByEmail,
	"SessionsExpireAndEnd":            testSessionsExpireAndEnd,
	"NewPasswordEndsSessions":         testNewPasswordEndsSessions,
	"TimelinePagesInOrder":            testTimelinePagesInOrder,
	"ChatListNewestFirstWithLast":     testChatListNewestFirst,
	"PagesStayInTheirWorkspace":       testPagesStayInTheirWorkspace,
	"PendingCountsWhatWaits":          testPendingCountsWhatWaits,
	"SessionCarriesUserAndWorkspace":  testSessionCarriesUserAndWorkspace,
	"CreateUserInUnknownWorkspaceErr": testCreateUserInUnknownWorkspace,
}

func user(t *testing.T, st store.Store, ws, email string) chathook.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), chathook.User{WorkspaceID: ws, Email: email, Name: "N " + email, CreatedAt: t0},
		[]byte("hash of "+email))
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func session(t *testing.T, st store.Store, token string, userID int64, expires time.Time) {
	t.Helper()
	if err := st.CreateSession(context.Background(), []byte(token), userID, t0, expires); err != nil {
		t.Fatalf("create session: %v", err)
	}
}

func testUsersAreUniqueByEmail(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	u := user(t, st, a, "olga@acme.example")
	if u.ID == 0 || u.WorkspaceID != a {
		t.Errorf("created %+v", u)
	}
	if _, err := st.CreateUser(ctx, chathook.User{WorkspaceID: b, Email: "Olga@ACME.example", CreatedAt: t0}, []byte("x")); !errors.Is(err, chathook.ErrConflict) {
		t.Errorf("the same email in another case, in another workspace: %v, want ErrConflict", err)
	}
	got, hash, err := st.UserByEmail(ctx, "OLGA@acme.example")
	if err != nil || got.ID != u.ID || string(hash) != "hash of olga@acme.example" || got.Name != "N olga@acme.example" {
		t.Errorf("by email in another case: %+v %q %v", got, hash, err)
	}
	if _, _, err := st.UserByEmail(ctx, "nobody@acme.example"); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown email: %v, want ErrNotFound", err)
	}
}

func testCreateUserInUnknownWorkspace(t *testing.T, st store.Store) {
	_, err := st.CreateUser(context.Background(), chathook.User{WorkspaceID: "no-such", Email: "x@y.example", CreatedAt: t0}, []byte("x"))
	if !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("user of no workspace: %v, want ErrNotFound", err)
	}
}

func testSessionsExpireAndEnd(t *testing.T, st store.Store) {
	ctx := context.Background()
	u := user(t, st, workspace(t, st, "a", ""), "olga@acme.example")
	session(t, st, "tok-1", u.ID, t0.Add(time.Hour))
	if _, err := st.Session(ctx, []byte("tok-1"), t0.Add(time.Hour-time.Millisecond)); err != nil {
		t.Errorf("a session before it expires: %v", err)
	}
	if _, err := st.Session(ctx, []byte("tok-1"), t0.Add(time.Hour)); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("a session at its expiry: %v, want ErrUnauthorized", err)
	}
	if _, err := st.Session(ctx, []byte("tok-2"), t0); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("an unknown token: %v, want ErrUnauthorized", err)
	}
	session(t, st, "tok-2", u.ID, t0.Add(time.Hour))
	if err := st.DeleteSession(ctx, []byte("tok-2")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, []byte("tok-2"), t0); !errors.Is(err, chathook.ErrUnauthorized) {
		t.Errorf("a deleted session: %v, want ErrUnauthorized", err)
	}
	if err := st.DeleteSession(ctx, []byte("tok-2")); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

func testSessionCarriesUserAndWorkspace(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	u := user(t, st, ws, "olga@acme.example")
	session(t, st, "tok", u.ID, t0.Add(time.Hour))
	s, err := st.Session(context.Background(), []byte("tok"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.User.ID != u.ID || s.User.Email != "olga@acme.example" || s.Workspace.ID != ws || s.Workspace.Name != "acme" ||
		!s.ExpiresAt.Equal(t0.Add(time.Hour)) || !s.CreatedAt.Equal(t0) {
		t.Errorf("session %+v", s)
	}
}

func testNewPasswordEndsSessions(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	u, other := user(t, st, ws, "olga@acme.example"), user(t, st, ws, "ivan@acme.example")
	session(t, st, "olga-1", u.ID, t0.Add(time.Hour))
	session(t, st, "olga-2", u.ID, t0.Add(time.Hour))
	session(t, st, "ivan", other.ID, t0.Add(time.Hour))
	if err := st.SetPassword(ctx, u.ID, []byte("new hash")); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"olga-1", "olga-2"} {
		if _, err := st.Session(ctx, []byte(tok), t0); !errors.Is(err, chathook.ErrUnauthorized) {
			t.Errorf("session %s after a new password: %v", tok, err)
		}
	}
	if _, err := st.Session(ctx, []byte("ivan"), t0); err != nil {
		t.Errorf("another user's session ended too: %v", err)
	}
	if _, hash, _ := st.UserByEmail(ctx, "olga@acme.example"); string(hash) != "new hash" {
		t.Errorf("hash %q after SetPassword", hash)
	}
	if err := st.SetPassword(ctx, 999999, []byte("x")); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

// timeline ingests n messages into chat 1 whose timestamps run backwards
// in threes, so timeline order is neither ingest order nor unique by time.
func timeline(t *testing.T, st store.Store, ws string, n int) {
	var in []chathook.Incoming
	for i := range n {
		m := msg(1, i)
		m.Timestamp = t0.Add(time.Duration((n-i)/3) * time.Minute)
		in = append(in, m)
	}
	ingest(t, st, ws, in...)
}

func messageIDs(ms []chathook.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID
	}
	return out
}

func testTimelinePagesInOrder(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	timeline(t, st, ws, 25)
	chatID := ingest(t, st, ws, msg(1, 1000))[0].ChatID // at t0, among the oldest
	page := func(p store.Page) []chathook.Message {
		t.Helper()
		got, err := st.Messages(ctx, ws, chatID, p)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := page(store.Page{Limit: 100})
	if len(all) != 26 {
		t.Fatalf("%d messages, want 26", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Timestamp.After(b.Timestamp) || (a.Timestamp.Equal(b.Timestamp) && a.ID >= b.ID) {
			t.Fatalf("not in timeline order at %d: %v", i, messageIDs(all))
		}
	}
	if all[0].Timestamp.Equal(all[len(all)-1].Timestamp) {
		t.Fatal("setup: timestamps all equal")
	}
	if got := messageIDs(page(store.Page{Limit: 10})); !equal(got, messageIDs(all[16:])) {
		t.Errorf("latest 10: %v, want %v", got, messageIDs(all[16:]))
	}
	if got := messageIDs(page(store.Page{Before: store.Of(all[16]), Limit: 10})); !equal(got, messageIDs(all[6:16])) {
		t.Errorf("10 before the 17th: %v, want %v", got, messageIDs(all[6:16]))
	}
	if got := messageIDs(page(store.Page{Before: store.Of(all[3]), Limit: 10})); !equal(got, messageIDs(all[:3])) {
		t.Errorf("before the 4th: %v, want %v", got, messageIDs(all[:3]))
	}
	if got := messageIDs(page(store.Page{After: store.Of(all[5]), Limit: 4})); !equal(got, messageIDs(all[6:10])) {
		t.Errorf("4 after the 6th: %v, want %v", got, messageIDs(all[6:10]))
	}
	if got := page(store.Page{After: store.Of(all[23]), Limit: 4}); !equal(messageIDs(got), messageIDs(all[24:])) {
		t.Errorf("after the 24th: %v", messageIDs(got))
	}
	if got := page(store.Page{After: store.Of(all[25]), Limit: 4}); len(got) != 0 {
		t.Errorf("after the last: %v", messageIDs(got))
	}
	// Across messages that share a timestamp, the id decides.
	ties := 0
	for i := 1; i < len(all); i++ {
		if !all[i].Timestamp.Equal(all[i-1].Timestamp) {
			continue
		}
		ties++
		if got := page(store.Page{Before: store.Of(all[i]), Limit: 1}); len(got) != 1 || got[0].ID != all[i-1].ID {
			t.Errorf("1 before the %dth, which shares its timestamp: %v", i+1, messageIDs(got))
		}
		if got := page(store.Page{After: store.Of(all[i-1]), Limit: 1}); len(got) != 1 || got[0].ID != all[i].ID {
			t.Errorf("1 after the %dth, which shares its timestamp: %v", i, messageIDs(got))
		}
	}
	if ties == 0 {
		t.Fatal("setup: no timestamps shared")
	}
	m := all[7]
	if m.UUID == "" || m.ChatID != chatID || m.Text == "" || m.Direction != chathook.Received || m.ReceivedAt.IsZero() {
		t.Errorf("a message as read: %+v", m)
	}
	byUUID, err := st.MessageByUUID(ctx, ws, m.UUID)
	if err != nil || byUUID.ID != m.ID || byUUID.Text != m.Text || !byUUID.Timestamp.Equal(m.Timestamp) {
		t.Errorf("by uuid: %+v %v", byUUID, err)
	}
}

func testChatListNewestFirst(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "")
	var ids []int64
	for c := 1; c <= 5; c++ {
		ids = append(ids, ingest(t, st, ws, msg(c, 1))[0].ChatID)
	}
	ingest(t, st, ws, msg(2, 2)) // chat 2's latest: at the same time as the rest, but stored last
	got, err := st.Chats(ctx, ws, store.ChatQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != ids[1] || got[1].ID != ids[4] || got[2].ID != ids[3] {
		t.Fatalf("first page %+v", got)
	}
	if got[1].AccountPhone != "+15550000000" || got[1].Last.MessageID != "c5-m1" || got[1].Last.Text != "message 1 of chat 5" ||
		got[0].Last.MessageID != "c2-m2" {
		t.Errorf("summaries %+v", got[:2])
	}
	rest, err := st.Chats(ctx, ws, store.ChatQuery{Before: store.ActivityOf(got[2]), Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 2 || rest[0].ID != ids[2] || rest[1].ID != ids[0] {
		t.Errorf("second page %+v", rest)
	}
	c, err := st.Chat(ctx, ws, ids[1])
	if err != nil || c.ID != ids[1] || c.ExternalID != "+15551000002" || c.WorkspaceID != ws {
		t.Errorf("chat %+v %v", c, err)
	}
}

func testPagesStayInTheirWorkspace(t *testing.T, st store.Store) {
	ctx := context.Background()
	a, b := workspace(t, st, "a", ""), workspace(t, st, "b", "")
	chatA := ingest(t, st, a, msg(1, 1))[0].ChatID
	ingest(t, st, b, msg(7, 1))
	msgs, err := st.Messages(ctx, a, chatA, store.Page{Limit: 10})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("a's messages: %v %v", msgs, err)
	}
	if _, err := st.Chat(ctx, b, chatA); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a's chat read as b: %v, want ErrNotFound", err)
	}
	if got, err := st.Messages(ctx, b, chatA, store.Page{Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("a's messages read as b: %v %v", messageIDs(got), err)
	}
	if _, err := st.MessageByUUID(ctx, b, msgs[0].UUID); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("a's permalink read as b: %v, want ErrNotFound", err)
	}
	if got, err := st.Chats(ctx, b, store.ChatQuery{Limit: 10}); err != nil || len(got) != 1 || got[0].ID == chatA {
		t.Errorf("b's chat list: %+v %v", got, err)
	}
}

func testPendingCountsWhatWaits(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "a", "https://hook.example.com")
	other := workspace(t, st, "b", "https://hook.example.com")
	ingest(t, st, ws, msg(1, 1), msg(1, 2), msg(2, 1))
	ingest(t, st, other, msg(1, 1))
	if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n != 3 {
		t.Errorf("pending %d %v, want 3", n, err)
	}
	got := claim(t, st, "a", t0, 1)
	finish(t, st, got[0], 200, time.Time{})
	if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n != 2 {
		t.Errorf("pending after one delivered: %d %v, want 2", n, err)
	}
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{DiscardPending: true}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Pending(ctx, ws, chathook.Outbound); err != nil || n != 0 {
		t.Errorf("pending after discard: %d %v, want 0", n, err)
	}
	if n, err := st.Pending(ctx, other, chathook.Outbound); err != nil || n != 1 {
		t.Errorf("the other workspace's pending: %d %v, want 1", n, err)
	}
}
