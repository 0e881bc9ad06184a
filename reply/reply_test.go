package reply_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// number opens a store with a workspace whose Cloud API number has a
// direct chat and a group (the ingest API can make one).
func number(t *testing.T) (st store.Store, ws string, acc chathook.Account, direct, group int64) {
	t.Helper()
	st, ws, acc, chats := numberWith(t, "+16505551234", "120363000000000001@g.us")
	return st, ws, acc, chats[0], chats[1]
}

// numberWith opens a store with a workspace whose Cloud API number has
// a chat for each external id (a group's ends in @g.us), and returns
// their ids in that order.
func numberWith(t *testing.T, externals ...string) (st store.Store, ws string, acc chathook.Account, chats []int64) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chathook.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ws = uuid.NewString()
	if _, err := s.CreateWorkspace(ctx, chathook.Workspace{ID: ws, Name: "acme", OwnerEmail: "o@acme.example", CreatedAt: t0},
		[]byte("token"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err != nil {
		t.Fatal(err)
	}
	acc, err = s.AddCloudAPINumber(ctx, ws, chathook.Account{Phone: "+15550783881", PhoneNumberID: "106540352242922",
		FullName: "Acme", VerifyToken: "v"}, "app-secret", "token", t0)
	if err != nil {
		t.Fatal(err)
	}
	var in []chathook.Incoming
	for i, ext := range externals {
		in = append(in, chathook.Incoming{Account: chathook.Account{Phone: acc.Phone},
			Chat:      chathook.Chat{ExternalID: ext, FullName: "x", IsGroup: strings.HasSuffix(ext, "@g.us")},
			MessageID: fmt.Sprintf("m%d", i+1), UUID: uuid.NewString(), Direction: chathook.Received, Timestamp: t0, Text: "hi"})
	}
	res, err := s.Ingest(ctx, ws, t0, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		chats = append(chats, r.ChatID)
	}
	return s, ws, acc, chats
}

// TestQueueRefuses: what no account could send is refused before it is
// queued, saying why; bad input names its field.
func TestQueueRefuses(t *testing.T) {
	st, ws, _, direct, group := number(t)
	ctx := context.Background()
	var cannot *reply.CannotSendError
	if _, err := reply.Queue(ctx, st, ws, group, "hi all", chathook.Teammate{}, t0); !errors.As(err, &cannot) {
		t.Errorf("a Cloud API number's group: %v, want a CannotSendError", err)
	}
	if _, err := reply.Queue(ctx, st, ws, direct+100, "hi", chathook.Teammate{}, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("no such chat: %v", err)
	}
	if _, err := reply.Queue(ctx, st, uuid.NewString(), direct, "hi", chathook.Teammate{}, t0); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("another workspace's chat: %v", err)
	}
	r, err := reply.Queue(ctx, st, ws, direct, "hi", chathook.Teammate{FullName: "Jane"}, t0)
	if err != nil || r.WAID != "" || r.State != chathook.ReplyQueued {
		t.Errorf("a Cloud API reply %+v (%v): no WhatsApp id before Meta gives one", r, err)
	}
}

// cloud is a Graph API that must not be called.
type cloud struct{ t *testing.T }

func (c cloud) Send(context.Context, chathook.Outgoing) (string, error) {
	c.t.Error("the Graph API was called")
	return "", errors.New("called")
}

// TestRemovedNumberFailsItsReplies: a reply queued for a number removed
// since fails at once, without a request to Meta.
func TestRemovedNumberFailsItsReplies(t *testing.T) {
	st, ws, acc, direct, _ := number(t)
	ctx := context.Background()
	s := reply.New(reply.Config{Store: st, Owner: "me", CloudAPI: cloud{t}, Now: func() time.Time { return t0 }})
	r, err := s.Queue(ctx, ws, direct, "hi", chathook.Teammate{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAccountState(ctx, acc.ID, chathook.AccountDisconnected, t0); err != nil {
		t.Fatal(err)
	}
	if n := s.Round(ctx); n != 1 {
		t.Fatalf("claimed %d replies", n)
	}
	got, err := st.Reply(ctx, ws, direct, r.ID)
	if err != nil || got.State != chathook.ReplyFailed || got.Error != "this Cloud API number was removed from chathook" {
		t.Errorf("reply %+v (%v)", got, err)
	}
}

// TestCloudAPIWritesOnlyToPhones: a Cloud API number writes only to a
// phone number: a chat the ingest API made for it under another id (a
// broadcast list's) is refused at Queue, and a reply to one queued
// anyway fails without a request to Meta.
func TestCloudAPIWritesOnlyToPhones(t *testing.T) {
	st, ws, _, chats := numberWith(t, "120363000000000002@broadcast", "status@broadcast", "+16505551234", "16505551235")
	ctx := context.Background()
	var cannot *reply.CannotSendError
	for _, chat := range chats[:2] {
		if _, err := reply.Queue(ctx, st, ws, chat, "hi", chathook.Teammate{}, t0); !errors.As(err, &cannot) ||
			!strings.Contains(cannot.Reason, "only to a phone number") {
			t.Errorf("chat %d: %v, want a CannotSendError", chat, err)
		}
	}
	for _, chat := range chats[2:] {
		if _, err := reply.Queue(ctx, st, ws, chat, "hi", chathook.Teammate{}, t0); err != nil {
			t.Errorf("chat %d: %v, want queued", chat, err)
		}
	}
	// Queued past Queue's check, as by a store written before it.
	r, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.NewString(), WorkspaceID: ws, ChatID: chats[0], Text: "to many"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	g, to := graph(t)
	s := reply.New(reply.Config{Store: st, Owner: "me", CloudAPI: g, Now: func() time.Time { return t0 }})
	for s.Round(ctx) > 0 {
	}
	if got := to(); len(got) != 2 || got[0] == got[1] || !strings.HasPrefix(got[0], "1650555123") || !strings.HasPrefix(got[1], "1650555123") {
		t.Errorf("Meta was asked to send to %v, want the two phone numbers", got)
	}
	if got, err := st.Reply(ctx, ws, chats[0], r.ID); err != nil || got.State != chathook.ReplyFailed || !strings.Contains(got.Error, "only to a phone number") {
		t.Errorf("reply %+v (%v), want failed", got, err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := reply.DefaultBackoff(i + 1); got != w {
			t.Errorf("after attempt %d: %s, want %s", i+1, got, w)
		}
	}
}
