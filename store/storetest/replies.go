package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

var replies = map[string]func(*testing.T, store.Store){
	"ReplyJoinsTheTimelineNotTheWire": testReplyJoinsTheTimelineNotTheWire,
	"SentReplyIsDeliveredInChatOrder": testSentReplyIsDeliveredInChatOrder,
	"ReplyClaimsTakeChatsInTurn":      testReplyClaimsTakeChatsInTurn,
	"ReplyClaimsSkipAccountsNotHeld":  testReplyClaimsSkipAccountsNotHeld,
	"ReplyAttemptCutShortIsInDoubt":   testReplyAttemptCutShortIsInDoubt,
	"ReplyLaterIsNoAttempt":           testReplyLaterIsNoAttempt,
	"ReplyClaimsSkipPacedAccounts":    testReplyClaimsSkipPacedAccounts,
	"ReplyOutcomeNotOursIsRefused":    testReplyOutcomeNotOursIsRefused,
	"ReplyFailsAfterRetries":          testReplyFailsAfterRetries,
	"EchoOfReplyIsDuplicate":          testEchoOfReplyIsDuplicate,
	"EchoBeforeWamidKeepsOneMessage":  testEchoBeforeWamidKeepsOneMessage,
	"SentReplyWaitsForItsBundle":      testSentReplyWaitsForItsBundle,
	"RepliesStayInTheirWorkspace":     testRepliesStayInTheirWorkspace,
}

// chatOf ingests message n of a chat of the account of phone and
// returns the chat's id.
func chatOf(t *testing.T, st store.Store, ws, phone string, c, n int) int64 {
	t.Helper()
	m := msg(c, n)
	m.Account.Phone = phone
	res := ingest(t, st, ws, m)
	return res[0].ChatID
}

func queueReply(t *testing.T, st store.Store, ws string, chat int64, waID, text string, at time.Time) chathook.Reply {
	t.Helper()
	r, err := st.QueueReply(context.Background(), chathook.Reply{
		ID: uuid.Must(uuid.NewV7()).String(), WorkspaceID: ws, ChatID: chat, WAID: waID, Text: text,
		SentBy: chathook.Teammate{FullName: "Jane Smith", Email: "jane@example.com"},
	}, at)
	if err != nil {
		t.Fatalf("queue reply: %v", err)
	}
	return r
}

func claimReplies(t *testing.T, st store.Store, owner string, at time.Time, web ...int64) []chathook.Outgoing {
	t.Helper()
	got, err := st.ClaimReplies(context.Background(), owner, store.ReplyClaim{
		Now: at, Until: at.Add(lease), Web: web, Stale: at.Add(-time.Hour), Limit: 10,
	})
	if err != nil {
		t.Fatalf("claim replies: %v", err)
	}
	return got
}

func replyIDs(os []chathook.Outgoing) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Text
	}
	return out
}

// deliverAll delivers every delivery due at at.
func deliverAll(t *testing.T, st store.Store, at time.Time) {
	t.Helper()
	for {
		got := claim(t, st, "d", at, 10)
		if len(got) == 0 {
			return
		}
		for _, d := range got {
			finish(t, st, d, 200, time.Time{})
		}
	}
}

func sent(t *testing.T, st store.Store, owner, id, waID string, at time.Time) bool {
	t.Helper()
	queued, err := st.ReplySent(context.Background(), owner, id, waID, at)
	if err != nil {
		t.Fatalf("reply sent: %v", err)
	}
	return queued
}

func replyTimeline(t *testing.T, st store.Store, ws string, chat int64) []chathook.Message {
	t.Helper()
	ms, err := st.Messages(context.Background(), ws, chat, store.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// A queued reply is in the chat's timeline at once, as the teammate's
// message, and reaches no receiver until it is sent.
func testReplyJoinsTheTimelineNotTheWire(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://example.com/hook")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	deliverAll(t, st, t0) // the message's
	r := queueReply(t, st, ws, chat, "3EB0AAAA", "Thanks, on its way", t0.Add(time.Second))
	if r.AccountID != acc.ID || r.State != chathook.ReplyQueued || !r.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("queued %+v", r)
	}
	got, err := st.Reply(context.Background(), ws, chat, r.ID)
	if err != nil || got != r {
		t.Errorf("reply %+v (%v)\nwant  %+v", got, err, r)
	}
	ms := replyTimeline(t, st, ws, chat)
	if len(ms) != 2 {
		t.Fatalf("timeline %+v, want the message and the reply", ms)
	}
	m := ms[1]
	if m.UUID != r.ID || m.MessageID != "3EB0AAAA" || m.Direction != chathook.Sent || m.Sender.FullName != "Jane Smith" ||
		m.Sender.Phone != acc.Phone || m.Recipient.Phone != "+15551000001" || m.Reply != chathook.ReplyQueued || m.Text != r.Text {
		t.Errorf("reply in the timeline %+v", m)
	}
	if ms[0].Reply != "" {
		t.Errorf("an ingested message has reply state %q", ms[0].Reply)
	}
	if byUUID, err := st.MessageByUUID(context.Background(), ws, r.ID); err != nil || byUUID.Reply != chathook.ReplyQueued {
		t.Errorf("by uuid %+v (%v)", byUUID, err)
	}
	if got := claim(t, st, "d", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("a queued reply was claimed for the webhook: %v", ids(got))
	}
}

// A reply is delivered when WhatsApp took it, after what the chat
// received before that, as the teammate's sent message.
func testSentReplyIsDeliveredInChatOrder(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://example.com/hook")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "3EB0BBBB", "reply", t0)
	m2 := msg(1, 2)
	m2.Account.Phone = acc.Phone
	ingest(t, st, ws, m2)
	out := claimReplies(t, st, "a", t0, acc.ID)
	if len(out) != 1 || out[0].ID != r.ID || out[0].InDoubt || out[0].Chat.ID != chat || out[0].Account.Kind != chathook.KindWeb {
		t.Fatalf("claimed %+v", out)
	}
	at := t0.Add(2 * time.Second)
	if !sent(t, st, "a", r.ID, "3EB0BBBB", at) {
		t.Error("a sent reply queued no delivery")
	}
	if queued, err := st.ReplySent(context.Background(), "a", r.ID, "3EB0BBBB", at); !errors.Is(err, store.ErrNotOurs) || queued {
		t.Errorf("recording it sent twice: %v, %v; want ErrNotOurs and no second delivery", queued, err)
	}
	var order []string
	for {
		got := claim(t, st, "d", at, 1)
		if len(got) == 0 {
			break
		}
		order = append(order, got[0].Message.MessageID)
		if got[0].Message.MessageID == "3EB0BBBB" {
			m := got[0].Message
			if m.Direction != chathook.Sent || m.Sender.FullName != "Jane Smith" || !m.Timestamp.Equal(at) || m.Text != "reply" {
				t.Errorf("delivered reply %+v", m)
			}
		}
		finish(t, st, got[0], 200, time.Time{})
	}
	if want := []string{"c1-m1", "c1-m2", "3EB0BBBB"}; !equal(order, want) {
		t.Errorf("delivered %v, want %v", order, want)
	}
	got, err := st.Reply(context.Background(), ws, chat, r.ID)
	if err != nil || got.State != chathook.ReplySent || !got.SentAt.Equal(at) || got.Attempts != 1 || got.WAID != "3EB0BBBB" {
		t.Errorf("reply %+v (%v)", got, err)
	}
	if ms := replyTimeline(t, st, ws, chat); ms[len(ms)-1].Reply != chathook.ReplySent {
		t.Errorf("timeline's last %+v, want the reply sent", ms[len(ms)-1])
	}
}

// One reply of a chat at a time, oldest first; chats side by side.
func testReplyClaimsTakeChatsInTurn(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	c1, c2 := chatOf(t, st, ws, acc.Phone, 1, 1), chatOf(t, st, ws, acc.Phone, 2, 1)
	a1 := queueReply(t, st, ws, c1, "3EB01", "1a", t0)
	queueReply(t, st, ws, c1, "3EB02", "1b", t0)
	queueReply(t, st, ws, c2, "3EB03", "2a", t0.Add(time.Millisecond))
	if got := replyIDs(claimReplies(t, st, "a", t0.Add(time.Second), acc.ID)); !equal(got, []string{"1a", "2a"}) {
		t.Fatalf("claimed %v, want each chat's oldest", got)
	}
	if got := claimReplies(t, st, "b", t0.Add(time.Second), acc.ID); len(got) != 0 {
		t.Errorf("claimed %v while the chats' replies are leased", replyIDs(got))
	}
	// A retry holds its chat's later replies back, in order.
	if err := st.ReplyFailed(context.Background(), "a", a1.ID, "not connected", t0.Add(time.Minute), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := claimReplies(t, st, "a", t0.Add(2*time.Second), acc.ID); len(got) != 0 {
		t.Errorf("claimed %v behind a reply waiting for its retry", replyIDs(got))
	}
	if got := replyIDs(claimReplies(t, st, "a", t0.Add(time.Minute), acc.ID)); !equal(got, []string{"1a"}) {
		t.Errorf("claimed %v at the retry, want 1a", got)
	}
}

// A QR account's replies go to the instance that has it online; Cloud API
// numbers' to anyone; an account that cannot send, or a reply queued too
// long ago, to anyone who gives it up.
func testReplyClaimsSkipAccountsNotHeld(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	held := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	other := link(t, st, ws, 2, "b", t0.Add(time.Hour))
	gone := link(t, st, ws, 3, "b", t0.Add(time.Hour))
	cloud := addCloud(t, st, ws, 4)
	queueReply(t, st, ws, chatOf(t, st, ws, held.Phone, 1, 1), "3EB01", "held", t0)
	queueReply(t, st, ws, chatOf(t, st, ws, other.Phone, 2, 1), "3EB02", "other", t0)
	queueReply(t, st, ws, chatOf(t, st, ws, gone.Phone, 3, 1), "3EB03", "gone", t0)
	queueReply(t, st, ws, chatOf(t, st, ws, cloud.Phone, 4, 1), "", "cloud", t0)
	if _, err := st.SetAccountState(ctx, gone.ID, chathook.AccountLoggedOut, t0); err != nil {
		t.Fatal(err)
	}
	claimed := claimReplies(t, st, "a", t0, held.ID)
	if got := replyIDs(claimed); !equal(got, []string{"held", "gone", "cloud"}) {
		t.Errorf("claimed %v, want held, gone, cloud", got)
	}
	for _, o := range claimed {
		if err := st.ReplyFailed(ctx, "a", o.ID, "given up", time.Time{}, t0); err != nil {
			t.Fatal(err)
		}
	}
	// An hour later the other account's reply is stale: given up by anyone.
	if got := replyIDs(claimReplies(t, st, "a", t0.Add(time.Hour+lease+time.Second))); !equal(got, []string{"other"}) {
		t.Errorf("claimed %v, want the stale reply", got)
	}
}

// A lease that ran out with its attempt open comes back in doubt; one
// whose attempt ended does not.
func testReplyAttemptCutShortIsInDoubt(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	cloud := addCloud(t, st, ws, 1)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "", "hello", t0)
	if got := claimReplies(t, st, "a", t0); len(got) != 1 || got[0].InDoubt {
		t.Fatalf("first claim %+v", got)
	}
	if got := claimReplies(t, st, "b", t0.Add(lease/2)); len(got) != 0 {
		t.Fatalf("claimed while leased: %+v", got)
	}
	got := claimReplies(t, st, "b", t0.Add(lease))
	if len(got) != 1 || !got[0].InDoubt {
		t.Fatalf("claim after the lease ran out %+v, want in doubt", got)
	}
	// The first claimer's late outcome is not recorded over the second's lease.
	if queued, err := st.ReplySent(context.Background(), "a", r.ID, "wamid.late", t0.Add(lease)); !errors.Is(err, store.ErrNotOurs) || queued {
		t.Errorf("a lost lease recorded its outcome: %v, %v; want ErrNotOurs", queued, err)
	}
	if err := st.ReplyFailed(context.Background(), "b", r.ID, "5xx", t0.Add(lease+time.Second), t0.Add(lease)); err != nil {
		t.Fatal(err)
	}
	if got := claimReplies(t, st, "b", t0.Add(lease+time.Second)); len(got) != 1 || got[0].InDoubt {
		t.Errorf("claim after a recorded failure %+v, want not in doubt", got)
	}
}

func testReplyFailsAfterRetries(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://example.com/hook")
	cloud := addCloud(t, st, ws, 1)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	deliverAll(t, st, t0)
	r := queueReply(t, st, ws, chat, "", "hello", t0)
	claimReplies(t, st, "a", t0)
	if err := st.ReplyFailed(ctx, "a", r.ID, "Meta answered 500", t0.Add(time.Second), t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Reply(ctx, ws, chat, r.ID); got.State != chathook.ReplyQueued || got.Error != "Meta answered 500" || got.Attempts != 1 {
		t.Errorf("after a transient failure %+v", got)
	}
	claimReplies(t, st, "a", t0.Add(time.Second))
	if err := st.ReplyFailed(ctx, "a", r.ID, "outside the 24-hour window", time.Time{}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Reply(ctx, ws, chat, r.ID)
	if got.State != chathook.ReplyFailed || got.Error != "outside the 24-hour window" || got.Attempts != 2 {
		t.Errorf("after a refusal %+v", got)
	}
	if ms := replyTimeline(t, st, ws, chat); ms[1].Reply != chathook.ReplyFailed || ms[1].ReplyError != "outside the 24-hour window" {
		t.Errorf("timeline %+v", ms[1])
	}
	if got := claimReplies(t, st, "a", t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("a failed reply was claimed: %+v", got)
	}
	if got := claim(t, st, "d", t0.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("a failed reply was delivered: %v", ids(got))
	}
}

// The QR account's own copy of a reply, with the id chosen for it, is
// the same message.
func testEchoOfReplyIsDuplicate(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://example.com/hook")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "3EB0ECHO", "hello", t0)
	echo := msg(1, 2)
	echo.Account.Phone, echo.MessageID, echo.Direction, echo.Text = acc.Phone, "3EB0ECHO", chathook.Sent, "hello"
	if res := ingest(t, st, ws, echo); res[0].Status != chathook.Duplicate || res[0].ChatID != chat {
		t.Errorf("echo before it was sent: %+v", res)
	}
	claimReplies(t, st, "a", t0, acc.ID)
	sent(t, st, "a", r.ID, "3EB0ECHO", t0)
	if res := ingest(t, st, ws, echo); res[0].Status != chathook.Duplicate {
		t.Errorf("echo after it was sent: %+v", res)
	}
	if ms := replyTimeline(t, st, ws, chat); len(ms) != 2 {
		t.Errorf("timeline holds %d messages, want 2", len(ms))
	}
}

// A Cloud API echo that arrives before Meta's answer (the wamid) is kept
// as the message: the reply's own copy goes, and nothing is delivered
// twice.
func testEchoBeforeWamidKeepsOneMessage(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://example.com/hook")
	cloud := addCloud(t, st, ws, 1)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	deliverAll(t, st, t0)
	r := queueReply(t, st, ws, chat, "", "hello", t0)
	claimReplies(t, st, "a", t0)
	echo := msg(1, 2)
	echo.Account.Phone, echo.MessageID, echo.Direction, echo.Text = cloud.Phone, "wamid.X", chathook.Sent, "hello"
	ingest(t, st, ws, echo)
	if sent(t, st, "a", r.ID, "wamid.X", t0) {
		t.Error("the reply was queued beside its echo")
	}
	ms := replyTimeline(t, st, ws, chat)
	if len(ms) != 2 || ms[1].MessageID != "wamid.X" {
		t.Errorf("timeline %+v, want the message and the echo", ms)
	}
	if got := claim(t, st, "d", t0.Add(time.Second), 10); len(got) != 1 || got[0].Message.MessageID != "wamid.X" {
		t.Errorf("delivered %v, want the echo once", ids(got))
	}
	if got, _ := st.Reply(context.Background(), ws, chat, r.ID); got.State != chathook.ReplySent || got.WAID != "wamid.X" {
		t.Errorf("reply %+v", got)
	}
}

func testSentReplyWaitsForItsBundle(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "https://example.com/hook")
	g := chathook.Hourly
	if _, err := st.UpdateWebhook(ctx, ws, chathook.Outbound, t0, chathook.WebhookUpdate{Granularity: &g}); err != nil {
		t.Fatal(err)
	}
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, ws, acc.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "3EB0B", "reply", t0)
	claimReplies(t, st, "a", t0, acc.ID)
	if sent(t, st, "a", r.ID, "3EB0B", t0.Add(time.Second)) {
		t.Error("a reply in a bundled workspace got a delivery of its own")
	}
	if b, m := flush(t, st, ws, t0.Add(time.Hour), roomy); b != 1 || m != 2 {
		t.Errorf("flushed %d bundles of %d messages, want 1 of 2", b, m)
	}
}

func testRepliesStayInTheirWorkspace(t *testing.T, st store.Store) {
	ctx := context.Background()
	acme := workspace(t, st, "acme", "")
	globex := workspace(t, st, "globex", "")
	acc := link(t, st, acme, 1, "a", t0.Add(time.Hour))
	chat := chatOf(t, st, acme, acc.Phone, 1, 1)
	_, err := st.QueueReply(ctx, chathook.Reply{ID: uuid.NewString(), WorkspaceID: globex, ChatID: chat, Text: "x"}, t0)
	if !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("reply to another workspace's chat: %v, want not found", err)
	}
	r := queueReply(t, st, acme, chat, "3EB0", "x", t0)
	for _, c := range []struct {
		ws   string
		chat int64
		id   string
	}{{globex, chat, r.ID}, {acme, chat + 1, r.ID}, {acme, chat, uuid.NewString()}} {
		if _, err := st.Reply(ctx, c.ws, c.chat, c.id); !errors.Is(err, chathook.ErrNotFound) {
			t.Errorf("reply %s of chat %d in %s: %v, want not found", c.id, c.chat, c.ws, err)
		}
	}
}

// ReplyLater hands a claimed reply back for its account's turn: due
// then, no attempt counted, its Error kept, free for any claimer, and
// not in doubt (it was never attempted). Only its owner may, and only
// while it is queued.
func testReplyLaterIsNoAttempt(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	cloud := addCloud(t, st, ws, 1)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "", "hello", t0)
	claimReplies(t, st, "a", t0)
	if err := st.ReplyFailed(ctx, "a", r.ID, "may have been sent: timed out", t0.Add(time.Second), t0); err != nil {
		t.Fatal(err)
	}
	if got := claimReplies(t, st, "a", t0.Add(time.Second)); len(got) != 1 || got[0].InDoubt {
		t.Fatalf("claimed %+v", got)
	}
	due := t0.Add(10 * time.Second)
	if err := st.ReplyLater(ctx, "b", r.ID, due); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("another owner's ReplyLater: %v, want ErrNotOurs", err)
	}
	if err := st.ReplyLater(ctx, "a", r.ID, due); err != nil {
		t.Fatal(err)
	}
	got, err := st.Reply(ctx, ws, chat, r.ID)
	if err != nil || got.State != chathook.ReplyQueued || got.Attempts != 1 || got.Error != "may have been sent: timed out" {
		t.Errorf("handed back %+v (%v), want queued, one attempt, its Error kept", got, err)
	}
	if got := claimReplies(t, st, "b", due.Add(-time.Millisecond)); len(got) != 0 {
		t.Errorf("claimed %v before it was due", replyIDs(got))
	}
	// Within a's lease: the hand-back released it.
	out := claimReplies(t, st, "b", due)
	if len(out) != 1 || out[0].ID != r.ID || out[0].InDoubt || out[0].Attempts != 1 {
		t.Fatalf("claimed at its turn %+v, want it, not in doubt", out)
	}
	if err := st.ReplyLater(ctx, "a", r.ID, due); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("ReplyLater by the earlier owner: %v, want ErrNotOurs", err)
	}
	sent(t, st, "b", r.ID, "wamid.1", due)
	if err := st.ReplyLater(ctx, "b", r.ID, due.Add(time.Minute)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("ReplyLater of a sent reply: %v, want ErrNotOurs", err)
	}
	if got, _ := st.Reply(ctx, ws, chat, r.ID); got.State != chathook.ReplySent || got.Attempts != 2 {
		t.Errorf("reply %+v, want sent after 2 attempts", got)
	}
}

// Accounts in Skip (paced: their turn has not come) have none of their
// replies handed out, whatever else would: held online, a Cloud API
// number, an account that cannot send.
func testReplyClaimsSkipPacedAccounts(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	held := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	gone := link(t, st, ws, 2, "a", t0.Add(time.Hour))
	cloud := addCloud(t, st, ws, 3)
	queueReply(t, st, ws, chatOf(t, st, ws, held.Phone, 1, 1), "3EB01", "held", t0)
	queueReply(t, st, ws, chatOf(t, st, ws, gone.Phone, 2, 1), "3EB02", "gone", t0)
	queueReply(t, st, ws, chatOf(t, st, ws, cloud.Phone, 3, 1), "", "cloud", t0)
	if _, err := st.SetAccountState(ctx, gone.ID, chathook.AccountLoggedOut, t0); err != nil {
		t.Fatal(err)
	}
	claimSkip := func(owner string, skip ...int64) []string {
		t.Helper()
		out, err := st.ClaimReplies(ctx, owner, store.ReplyClaim{Now: t0, Until: t0.Add(lease), Web: []int64{held.ID}, Skip: skip,
			Stale: t0.Add(-time.Hour), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return replyIDs(out)
	}
	if got := claimSkip("a", held.ID, gone.ID, cloud.ID); len(got) != 0 {
		t.Errorf("claimed %v, every account skipped", got)
	}
	if got := claimSkip("a", held.ID, cloud.ID); !equal(got, []string{"gone"}) {
		t.Errorf("claimed %v, want gone", got)
	}
	if got := claimSkip("b", gone.ID); !equal(got, []string{"held", "cloud"}) {
		t.Errorf("claimed %v, want held and cloud", got)
	}
	// A banned account's reply is handed out with when the ban ends, for
	// its reason.
	until := t0.Add(26 * time.Hour)
	if _, err := st.BanAccount(ctx, held.ID, until, t0); err != nil {
		t.Fatal(err)
	}
	out, err := st.ClaimReplies(ctx, "c", store.ReplyClaim{Now: t0.Add(2 * lease), Until: t0.Add(3 * lease), Skip: []int64{gone.ID, cloud.ID},
		Stale: t0.Add(-time.Hour), Limit: 10})
	if err != nil || len(out) != 1 || out[0].Account.State != chathook.AccountBanned || !out[0].Account.StateUntil.Equal(until) {
		t.Errorf("claimed %+v (%v), want the banned account's reply, until %s", out, err, until)
	}
}

// ReplyFailed and ReplyUncertain of a reply the owner no longer holds,
// or that is no longer queued, change nothing and say so.
func testReplyOutcomeNotOursIsRefused(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	cloud := addCloud(t, st, ws, 1)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "", "hello", t0)
	claimReplies(t, st, "a", t0)
	if err := st.ReplyFailed(ctx, "b", r.ID, "no", time.Time{}, t0); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("another owner's ReplyFailed: %v, want ErrNotOurs", err)
	}
	if err := st.ReplyUncertain(ctx, "b", r.ID, "no", t0); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("another owner's ReplyUncertain: %v, want ErrNotOurs", err)
	}
	if got, _ := st.Reply(ctx, ws, chat, r.ID); got.State != chathook.ReplyQueued || got.Attempts != 0 || got.Error != "" {
		t.Errorf("reply %+v after others' outcomes, want as it was", got)
	}
	sent(t, st, "a", r.ID, "wamid.1", t0)
	if err := st.ReplyFailed(ctx, "a", r.ID, "late", t0.Add(time.Second), t0); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("ReplyFailed of a sent reply: %v, want ErrNotOurs", err)
	}
	if err := st.ReplyUncertain(ctx, "a", r.ID, "late", t0); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("ReplyUncertain of a sent reply: %v, want ErrNotOurs", err)
	}
	if got, _ := st.Reply(ctx, ws, chat, r.ID); got.State != chathook.ReplySent || got.Attempts != 1 || got.Error != "" {
		t.Errorf("reply %+v, want sent once", got)
	}
}
