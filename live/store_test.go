package live_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/live"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/chathook/chathook/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newWorkspace(t *testing.T, st store.Store) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := st.CreateWorkspace(context.Background(), chathook.Workspace{ID: id, Name: "w", OwnerEmail: id + "@example.com", CreatedAt: t0},
		[]byte("token-"+id), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	return id
}

// Each write the chat pages show is published once committed, naming its
// chats, to its own workspace only; a write that changed nothing is not.
func TestStorePublishesWrites(t *testing.T) {
	ctx := context.Background()
	hub := live.NewHub()
	st := live.Wrap(openSQLite(t), hub)
	ws, other := newWorkspace(t, st), newWorkspace(t, st)
	sub, otherSub := subscribe(t, hub, ws, "a"), subscribe(t, hub, other, "b")

	m1, m2 := storetest.Message(1, 1), storetest.Message(2, 1)
	res, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m1, m2})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{res[0].ChatID, res[1].ChatID}
	slices.Sort(want)
	if c := next(t, sub); c.All || !slices.Equal(c.Chats, want) {
		t.Fatalf("after Ingest: got %+v, want chats %v", c, want)
	}
	none(t, otherSub)

	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m1}); err != nil { // a duplicate
		t.Fatal(err)
	}
	none(t, sub)

	chat := res[0].ChatID
	name := "Renamed"
	if _, err := st.UpdateChat(ctx, ws, chat, chathook.ChatUpdate{FullName: &name}); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); !slices.Equal(c.Chats, []int64{chat}) {
		t.Fatalf("after UpdateChat: got %+v", c)
	}
	if _, err := st.UpdateChat(ctx, other, chat, chathook.ChatUpdate{FullName: &name}); err == nil {
		t.Fatal("UpdateChat of another workspace's chat succeeded")
	}
	none(t, otherSub)
	none(t, sub)

	r, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.NewString(), WorkspaceID: ws, ChatID: chat, Text: "hi",
		SentBy: chathook.Teammate{FullName: "Jane", Email: "jane@example.com"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); !slices.Equal(c.Chats, []int64{chat}) {
		t.Fatalf("after QueueReply: got %+v", c)
	}
	// The ingest API's account cannot send: its reply is claimed to be
	// given up, and giving it up is shown.
	out, err := st.ClaimReplies(ctx, "me", store.ReplyClaim{Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	if err != nil || len(out) != 1 || out[0].ID != r.ID {
		t.Fatalf("ClaimReplies: %v %+v", err, out)
	}
	none(t, sub) // a claim shows nothing new
	if err := st.ReplyFailed(ctx, "me", r.ID, "cannot send", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	if c := next(t, sub); !slices.Equal(c.Chats, []int64{chat}) {
		t.Fatalf("after ReplyFailed: got %+v", c)
	}
	if err := st.ReplyFailed(ctx, "me", r.ID, "again", time.Time{}, t0); err == nil {
		t.Fatal("a second ReplyFailed was taken")
	}
	none(t, sub)
	none(t, otherSub)
}

// Facts name chats by WhatsApp's ids: their workspace is told that all
// changed, the workspace learnt from the read that handed the account
// out; a fact of an account this instance never handed out tells every
// workspace, and a repeat tells none.
func TestStorePublishesFacts(t *testing.T) {
	ctx := context.Background()
	hub := live.NewHub()
	st := live.Wrap(openSQLite(t), hub)
	ws, other := newWorkspace(t, st), newWorkspace(t, st)
	sub, otherSub := subscribe(t, hub, ws, "a"), subscribe(t, hub, other, "b")
	m := storetest.Message(1, 1)
	if _, err := st.Ingest(ctx, ws, t0, []chathook.Incoming{m}); err != nil {
		t.Fatal(err)
	}
	next(t, sub)
	acct, err := st.AddCloudAPINumber(ctx, ws, chathook.Account{Phone: m.Account.Phone, PhoneNumberID: "106000000000001",
		FullName: "Shop", Email: "ops@example.com", VerifyToken: "verify"}, "secret", "", t0)
	if err != nil {
		t.Fatal(err)
	}
	status := func(s chathook.MessageStatus) []chathook.Fact {
		return []chathook.Fact{{Kind: chathook.FactStatus, Chat: m.Chat.ExternalID, MessageID: m.MessageID, Status: s, At: t0}}
	}
	// Another instance's view: it never handed the account out.
	if _, _, err := live.Wrap(st.Store, hub).RecordFacts(ctx, acct.ID, t0, status(chathook.StatusSent)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*live.Subscription{sub, otherSub} {
		if c := next(t, s); !c.All {
			t.Fatalf("a fact of an unknown account: got %+v, want all", c)
		}
	}
	if _, err := st.CloudAPINumbers(ctx, ws); err != nil { // as the Cloud API webhook reads them
		t.Fatal(err)
	}
	res, _, err := st.RecordFacts(ctx, acct.ID, t0, status(chathook.StatusDelivered))
	if err != nil || res[0] != chathook.FactApplied {
		t.Fatalf("RecordFacts: %v %v", res, err)
	}
	if c := next(t, sub); !c.All || c.Workspace != ws {
		t.Fatalf("got %+v, want all of %s", c, ws)
	}
	none(t, otherSub)
	if res, _, err := st.RecordFacts(ctx, acct.ID, t0, status(chathook.StatusDelivered)); err != nil || res[0] != chathook.FactRepeat {
		t.Fatalf("repeat: %v %v", res, err)
	}
	none(t, sub)
}
