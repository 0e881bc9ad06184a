package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/store"
)

// facts are the tests of store.Facts, BanAccount and ReplyUncertain.
var facts = map[string]func(*testing.T, store.Store){
	"FactsApplyOnceEach":               testFactsApplyOnceEach,
	"FactStatusOnlyMovesForward":       testFactStatusForwardOnly,
	"FactOfUnknownChatRecordsNothing":  testFactUnknownChat,
	"FactOfUnknownMessageStillTells":   testFactUnknownMessage,
	"FactFindsChatByFormerID":          testFactChatFormerID,
	"FactEventWaitsForItsMessage":      testFactEventAfterMessage,
	"FactsNeverReachSeedEndpoints":     testFactsNotSeed,
	"FactsFollowSubscriptions":         testFactsSubscriptions,
	"FailedStatusFailsSentReply":       testFailedStatusFailsReply,
	"StatusSendsQueuedReplyOnce":       testStatusSendsQueuedReply,
	"StatusAfterReplySentSendsNoMore":  testStatusAfterReplySent,
	"StatusSendsUncertainReplyByWAID":  testStatusSendsUncertainReply,
	"UncertainReplyIsNeverClaimed":     testUncertainNeverClaimed,
	"FailedStatusFailsUncertainReply":  testFailedStatusFailsUncertain,
	"FactAboutQueuedReplySendsIt":      testFactSendsQueuedReply,
	"FactsAreChecked":                  testFactsChecked,
	"ChatListKnowsLastDeleted":         testChatListDeleted,
	"ReplySentAnswersNotOurs":          testReplySentNotOurs,
	"BanAccountEmailsTellsAndReleases": testBanAccount,
	"BanEndsIntoConnecting":            testBanEnds,
	"OutdatedEmailsOnceAndTells":       testOutdated,
}

// factEvents are the event types of facts.
var factEvents = []string{event.MessageStatus, event.MessageEdited, event.MessageDeleted, event.MessageReaction}

// record records facts of an account at now.
func record(t *testing.T, st store.Store, accountID int64, now time.Time, fs ...chathook.Fact) ([]chathook.FactResult, bool) {
	t.Helper()
	res, queued, err := st.RecordFacts(context.Background(), accountID, now, fs)
	if err != nil {
		t.Fatalf("record facts: %v", err)
	}
	if len(res) != len(fs) {
		t.Fatalf("%d results of %d facts", len(res), len(fs))
	}
	return res, queued
}

// told is one claimed delivery: its endpoint, type, the message id of a
// message delivery, and an event's data.
type told struct {
	Endpoint, Type, MessageID string
	Lane, Chat                int64
	Data                      map[string]any
}

// drain claims and delivers everything due at at, in claim order.
func drain(t *testing.T, st store.Store, at time.Time) []told {
	t.Helper()
	var out []told
	for range 100 {
		got := claim(t, st, "d", at, 10)
		if len(got) == 0 {
			return out
		}
		for _, d := range got {
			x := told{Endpoint: d.Webhook.ID, Type: d.Type, MessageID: d.Message.MessageID, Lane: d.Lane, Chat: d.Chat.ID}
			if len(d.Data) > 0 {
				if err := json.Unmarshal(d.Data, &x.Data); err != nil {
					t.Fatalf("data %s: %v", d.Data, err)
				}
			}
			out = append(out, x)
			finish(t, st, d, 200, time.Time{})
		}
	}
	t.Fatal("deliveries never ran out")
	return nil
}

func typesOf(ts []told) []string {
	out := make([]string, len(ts))
	for i, x := range ts {
		out[i] = x.Type
	}
	return out
}

// factSetup is a workspace with a linked account (+15550000001), an
// event endpoint of every message event, and chat +15551000001 with a
// received message (c1-m1) and a sent one (c1-m2), delivered.
type factSetup struct {
	ws   string
	acc  chathook.Account
	ep   chathook.Webhook
	chat int64
	in   chathook.Incoming // c1-m1
	out  chathook.Incoming // c1-m2
}

const factChat = "+15551000001"

func newFactSetup(t *testing.T, st store.Store) factSetup {
	t.Helper()
	ws := workspace(t, st, "acme", "")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	ep := addEndpoint(t, st, ws, "https://crm.example.com", event.Envelope, chathook.NoAggregation,
		append([]string{event.MessageNew}, factEvents...)...)
	in, out := msg(1, 1), msg(1, 2)
	in.Account.Phone, out.Account.Phone, out.Direction = acc.Phone, acc.Phone, chathook.Sent
	res := ingest(t, st, ws, in, out)
	drain(t, st, t0)
	return factSetup{ws: ws, acc: acc, ep: ep, chat: res[0].ChatID, in: in, out: out}
}

func (s factSetup) message(t *testing.T, st store.Store, uuid string) chathook.Message {
	t.Helper()
	m, err := st.MessageByUUID(context.Background(), s.ws, uuid)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// Every kind is recorded once, tells its event once with SPEC's data,
// and reads back on the message (the chat page and MessageByUUID).
func testFactsApplyOnceEach(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	alice := chathook.Person{FullName: "Alice", Phone: "+15551000001"}
	facts := []chathook.Fact{
		{Kind: chathook.FactStatus, Chat: factChat, MessageID: "c1-m2", Status: chathook.StatusDelivered, At: at(1)},
		{Kind: chathook.FactEdited, Chat: factChat, MessageID: "c1-m2", ID: "E1", Text: "message 2, edited", At: at(2)},
		{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m2", ID: "R1", Reaction: "👍", Sender: alice, SenderKey: "a@s", At: at(3)},
		{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m1", ID: "R2", Reaction: "❤️", Sender: alice, SenderKey: "a@s", At: at(4)},
		{Kind: chathook.FactDeleted, Chat: factChat, MessageID: "c1-m1", ID: "D1", At: at(5)},
	}
	res, queued := record(t, st, s.acc.ID, at(10), facts...)
	for i, r := range res {
		if r != chathook.FactApplied {
			t.Errorf("fact %d: %s, want applied", i, r)
		}
	}
	if !queued {
		t.Error("applied facts queued nothing")
	}
	// The same facts again: repeats, by ID or by what is stored.
	res, queued = record(t, st, s.acc.ID, at(11), facts...)
	for i, r := range res {
		if r != chathook.FactRepeat {
			t.Errorf("fact %d again: %s, want repeat", i, r)
		}
	}
	if queued {
		t.Error("repeats queued a delivery")
	}
	// Repeats without the ID: the same reaction; a message deleted already.
	again := []chathook.Fact{facts[2], facts[4]}
	again[0].ID, again[1].ID = "R1b", "D2"
	if res, _ := record(t, st, s.acc.ID, at(12), again...); !slices.Equal(res, []chathook.FactResult{chathook.FactRepeat, chathook.FactRepeat}) {
		t.Errorf("the same reaction and a second delete under new ids: %v, want repeats", res)
	}

	got := drain(t, st, at(20))
	want := []string{event.MessageStatus, event.MessageEdited, event.MessageReaction, event.MessageReaction, event.MessageDeleted}
	if !slices.Equal(typesOf(got), want) {
		t.Fatalf("told %v, want %v", typesOf(got), want)
	}
	datas := []map[string]any{
		{"message_id": "c1-m2", "message_uuid": s.out.UUID, "status": "delivered", "error": "", "at": "2026-03-01T12:00:01Z"},
		{"message_id": "c1-m2", "message_uuid": s.out.UUID, "text": "message 2, edited", "at": "2026-03-01T12:00:02Z"},
		{"message_id": "c1-m2", "message_uuid": s.out.UUID, "reaction": "👍",
			"sender": map[string]any{"full_name": "Alice", "phone": "+15551000001"}, "at": "2026-03-01T12:00:03Z"},
		{"message_id": "c1-m1", "message_uuid": s.in.UUID, "reaction": "❤️",
			"sender": map[string]any{"full_name": "Alice", "phone": "+15551000001"}, "at": "2026-03-01T12:00:04Z"},
		{"message_id": "c1-m1", "message_uuid": s.in.UUID, "at": "2026-03-01T12:00:05Z"},
	}
	for i, x := range got {
		if !reflect.DeepEqual(x.Data, datas[i]) {
			t.Errorf("%s data %v\nwant %v", x.Type, x.Data, datas[i])
		}
		if x.Chat != s.chat || x.Endpoint != s.ep.ID {
			t.Errorf("%s told of chat %d to %s", x.Type, x.Chat, x.Endpoint)
		}
	}

	out := s.message(t, st, s.out.UUID)
	if out.Status != chathook.StatusDelivered || !out.StatusAt.Equal(at(1)) || out.Text != "message 2, edited" || out.Deleted ||
		!reflect.DeepEqual(out.Edits, []chathook.Edit{{Text: s.out.Text, At: at(2)}}) ||
		!reflect.DeepEqual(out.Reactions, []chathook.Reaction{{Sender: alice, Reaction: "👍", At: at(3)}}) {
		t.Errorf("sent message reads %+v", out)
	}
	page := replyTimeline(t, st, s.ws, s.chat)
	if len(page) != 2 {
		t.Fatalf("chat page %+v", page)
	}
	in := page[0]
	if in.Status != "" || !in.Deleted || !in.DeletedAt.Equal(at(5)) || in.Text != s.in.Text || len(in.Edits) != 0 ||
		!reflect.DeepEqual(in.Reactions, []chathook.Reaction{{Sender: alice, Reaction: "❤️", At: at(4)}}) {
		t.Errorf("received message on the page %+v", in)
	}
	if !reflect.DeepEqual(page[1].Edits, out.Edits) || !reflect.DeepEqual(page[1].Reactions, out.Reactions) {
		t.Errorf("the page's sent message %+v, MessageByUUID's %+v", page[1], out)
	}

	// Another sender's reaction comes after; a reaction taken back goes;
	// a second edit keeps both earlier texts, oldest first.
	bob := chathook.Person{FullName: "Bob", Phone: "+15551000002"}
	res, _ = record(t, st, s.acc.ID, at(30),
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m2", ID: "R3", Reaction: "😂", Sender: bob, SenderKey: "b@s", At: at(30)},
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m2", ID: "R4", Reaction: "", Sender: alice, SenderKey: "a@s", At: at(31)},
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m2", ID: "R5", Reaction: "", Sender: alice, SenderKey: "a@s", At: at(32)},
		chathook.Fact{Kind: chathook.FactEdited, Chat: factChat, MessageID: "c1-m2", ID: "E2", Text: "third", At: at(33)})
	if want := []chathook.FactResult{chathook.FactApplied, chathook.FactApplied, chathook.FactRepeat, chathook.FactApplied}; !slices.Equal(res, want) {
		t.Errorf("results %v, want %v", res, want)
	}
	out = s.message(t, st, s.out.UUID)
	if !reflect.DeepEqual(out.Reactions, []chathook.Reaction{{Sender: bob, Reaction: "😂", At: at(30)}}) || out.Text != "third" ||
		!reflect.DeepEqual(out.Edits, []chathook.Edit{{Text: s.out.Text, At: at(2)}, {Text: "message 2, edited", At: at(33)}}) {
		t.Errorf("after more facts %+v", out)
	}
	got = drain(t, st, at(40))
	if want := []string{event.MessageReaction, event.MessageReaction, event.MessageEdited}; !slices.Equal(typesOf(got), want) {
		t.Fatalf("told %v, want %v", typesOf(got), want)
	}
	if got[1].Data["reaction"] != "" || got[1].Data["sender"].(map[string]any)["full_name"] != "Alice" {
		t.Errorf("a reaction taken back tells %v", got[1].Data)
	}
}

// A status moves forward only; failed ends any; a fact without At is
// dated now.
func testFactStatusForwardOnly(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	status := func(st chathook.MessageStatus, when time.Time) chathook.Fact {
		return chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "c1-m2", Status: st, At: when}
	}
	res, _ := record(t, st, s.acc.ID, at(10), status(chathook.StatusRead, at(1)), status(chathook.StatusDelivered, at(2)),
		status(chathook.StatusSent, at(3)), status(chathook.StatusRead, at(4)), status(chathook.StatusPlayed, time.Time{}))
	want := []chathook.FactResult{chathook.FactApplied, chathook.FactRepeat, chathook.FactRepeat, chathook.FactRepeat, chathook.FactApplied}
	if !slices.Equal(res, want) {
		t.Errorf("results %v, want %v", res, want)
	}
	if m := s.message(t, st, s.out.UUID); m.Status != chathook.StatusPlayed || !m.StatusAt.Equal(at(10)) {
		t.Errorf("status %q at %v, want played at now", m.Status, m.StatusAt)
	}
	failed := status(chathook.StatusFailed, at(11))
	failed.Error = "131047: Re-engagement message"
	if res, _ := record(t, st, s.acc.ID, at(11), failed, status(chathook.StatusRead, at(12))); !slices.Equal(res,
		[]chathook.FactResult{chathook.FactApplied, chathook.FactRepeat}) {
		t.Errorf("failed after played, then read: %v", res)
	}
	got := drain(t, st, at(20))
	if len(got) != 3 || got[0].Data["status"] != "read" || got[1].Data["status"] != "played" || got[1].Data["at"] != "2026-03-01T12:00:10Z" ||
		got[2].Data["status"] != "failed" || got[2].Data["error"] != "131047: Re-engagement message" {
		t.Errorf("told %+v", got)
	}
}

// A fact of a chat the account does not have records nothing.
func testFactUnknownChat(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	res, queued := record(t, st, s.acc.ID, at(1),
		chathook.Fact{Kind: chathook.FactReaction, Chat: "+15559999999", MessageID: "c1-m1", ID: "R1", Reaction: "👍", SenderKey: "x"},
		chathook.Fact{Kind: chathook.FactStatus, Chat: "+15559999999", MessageID: "c1-m2", Status: chathook.StatusRead})
	if !slices.Equal(res, []chathook.FactResult{chathook.FactNoChat, chathook.FactNoChat}) || queued {
		t.Errorf("results %v, queued %v", res, queued)
	}
	// Another account's chat is not the account's either.
	other := link(t, st, s.ws, 2, "a", t0.Add(time.Hour))
	if res, _ := record(t, st, other.ID, at(1), chathook.Fact{Kind: chathook.FactDeleted, Chat: factChat, MessageID: "c1-m1", ID: "D"}); res[0] != chathook.FactNoChat {
		t.Errorf("another account's chat: %v", res)
	}
	if got := drain(t, st, at(2)); len(got) != 0 {
		t.Errorf("told %v", typesOf(got))
	}
	// Not recorded: the same ID is applied once the chat is known.
	if res, _ := record(t, st, s.acc.ID, at(3),
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m1", ID: "R1", Reaction: "👍", SenderKey: "x"}); res[0] != chathook.FactApplied {
		t.Errorf("the fact in its chat: %v", res)
	}
}

// A fact of a message chathook does not have still tells, with
// message_uuid ""; repeats of it are caught by ID only.
func testFactUnknownMessage(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	react := chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "OLD1", ID: "R1", Reaction: "👍", SenderKey: "x", At: at(1)}
	status := chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "OLD2", Status: chathook.StatusRead, At: at(2)}
	res, queued := record(t, st, s.acc.ID, at(3), react, status, react, status)
	if want := []chathook.FactResult{chathook.FactApplied, chathook.FactApplied, chathook.FactRepeat, chathook.FactApplied}; !slices.Equal(res, want) || !queued {
		t.Errorf("results %v (queued %v), want %v", res, queued, want)
	}
	got := drain(t, st, at(4))
	if want := []string{event.MessageReaction, event.MessageStatus, event.MessageStatus}; !slices.Equal(typesOf(got), want) {
		t.Fatalf("told %v, want %v", typesOf(got), want)
	}
	for _, x := range got {
		if x.Data["message_uuid"] != "" || x.Chat != s.chat {
			t.Errorf("%s of an unknown message: %v in chat %d", x.Type, x.Data, x.Chat)
		}
	}
	if got[0].Data["message_id"] != "OLD1" || got[1].Data["message_id"] != "OLD2" {
		t.Errorf("message ids %v, %v", got[0].Data, got[1].Data)
	}
	if page := replyTimeline(t, st, s.ws, s.chat); len(page) != 2 {
		t.Errorf("the chat holds %d messages, want the 2 it had", len(page))
	}
}

// A chat stored under its former id (a LID's phone number) is found.
func testFactChatFormerID(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	res, _ := record(t, st, s.acc.ID, at(1), chathook.Fact{Kind: chathook.FactEdited, Chat: "1234567@lid", ChatFormerID: factChat,
		MessageID: "c1-m2", ID: "E1", Text: "new"})
	if res[0] != chathook.FactApplied {
		t.Fatalf("result %v", res)
	}
	if m := s.message(t, st, s.out.UUID); m.Text != "new" {
		t.Errorf("text %q", m.Text)
	}
}

// A fact's event goes in its chat's lane, after the message it is about:
// not before that message's delivery is done.
func testFactEventAfterMessage(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	out := msg(1, 3)
	out.Account.Phone, out.Direction = s.acc.Phone, chathook.Sent
	ingest(t, st, s.ws, out)
	record(t, st, s.acc.ID, at(1), chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "c1-m3", Status: chathook.StatusDelivered})
	first := claim(t, st, "d", at(2), 1)
	if len(first) != 1 || first[0].Message.MessageID != "c1-m3" {
		t.Fatalf("claimed %v, want the message first", byEndpoint(first))
	}
	if more := claim(t, st, "e", at(2), 10); len(more) != 0 {
		t.Fatalf("claimed %v while the message was in flight", byEndpoint(more))
	}
	finish(t, st, first[0], 200, time.Time{})
	next := claim(t, st, "d", at(2), 10)
	if len(next) != 1 || next[0].Type != event.MessageStatus || next[0].Lane != first[0].Lane || next[0].Chat.ID != s.chat {
		t.Errorf("then claimed %+v", next)
	}
}

// Endpoints in the seed format never hear of facts, whatever they take.
func testFactsNotSeed(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "https://hook.example.com/outbound")
	addEndpoint(t, st, ws, "https://zap.example.com", event.Seed, chathook.NoAggregation, event.All)
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	chatOf(t, st, ws, acc.Phone, 1, 1)
	drain(t, st, t0)
	res, queued := record(t, st, acc.ID, at(1),
		chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "c1-m1", Status: chathook.StatusRead},
		chathook.Fact{Kind: chathook.FactEdited, Chat: factChat, MessageID: "c1-m1", ID: "E", Text: "x"},
		chathook.Fact{Kind: chathook.FactDeleted, Chat: factChat, MessageID: "c1-m1", ID: "D"},
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m1", ID: "R", Reaction: "👍", SenderKey: "x"})
	for _, r := range res {
		if r != chathook.FactApplied {
			t.Errorf("results %v: recorded all the same", res)
		}
	}
	if got := drain(t, st, at(2)); queued || len(got) != 0 {
		t.Errorf("seed endpoints were told %v (queued %v)", typesOf(got), queued)
	}
}

// An endpoint hears of the types it took, of the accounts it took.
func testFactsSubscriptions(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	acc := link(t, st, ws, 1, "a", t0.Add(time.Hour))
	other := link(t, st, ws, 2, "a", t0.Add(time.Hour))
	reactions := addEndpoint(t, st, ws, "https://r.example.com", event.Envelope, chathook.NoAggregation, event.MessageReaction)
	all := addEndpoint(t, st, ws, "https://all.example.com", event.Envelope, chathook.NoAggregation, event.All)
	theirs := addEndpoint(t, st, ws, "https://o.example.com", event.Envelope, chathook.NoAggregation, event.All)
	accounts := []int64{other.ID}
	if _, err := st.UpdateWebhook(context.Background(), ws, theirs.ID, t0, chathook.WebhookUpdate{Accounts: &accounts}); err != nil {
		t.Fatal(err)
	}
	chatOf(t, st, ws, acc.Phone, 1, 1)
	drain(t, st, t0)
	record(t, st, acc.ID, at(1),
		chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "c1-m1", Status: chathook.StatusRead},
		chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "c1-m1", ID: "R", Reaction: "👍", SenderKey: "x"})
	m := map[string][]string{}
	for _, x := range drain(t, st, at(2)) {
		m[x.Endpoint] = append(m[x.Endpoint], x.Type)
	}
	want := map[string][]string{reactions.ID: {event.MessageReaction}, all.ID: {event.MessageStatus, event.MessageReaction}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("told %v, want %v", m, want)
	}
}

// A failed status of a sent reply fails it, with Meta's error.
func testFailedStatusFailsReply(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "3EB0F", "hello", at(1))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	sent(t, st, "a", r.ID, "3EB0F", at(2))
	drain(t, st, at(2))
	res, _ := record(t, st, s.acc.ID, at(3), chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "3EB0F",
		Status: chathook.StatusFailed, Error: "131047: Re-engagement message", At: at(3)})
	if res[0] != chathook.FactApplied {
		t.Fatalf("result %v", res)
	}
	got, err := st.Reply(ctx, s.ws, s.chat, r.ID)
	if err != nil || got.State != chathook.ReplyFailed || got.Error != "131047: Re-engagement message" {
		t.Errorf("reply %+v (%v), want failed with Meta's error", got, err)
	}
	if m := s.message(t, st, r.ID); m.Reply != chathook.ReplyFailed || m.Status != chathook.StatusFailed {
		t.Errorf("message %+v", m)
	}
	if told := drain(t, st, at(4)); len(told) != 1 || told[0].Data["status"] != "failed" || told[0].Data["message_uuid"] != r.ID {
		t.Errorf("told %+v", told)
	}
}

// A status of a reply still queued (its sender's answer not recorded
// yet), found by ReplyID, sends it: its message takes the wamid and is
// delivered once, then the status; the sender's late ReplySent is not
// ours and queues nothing more.
func testStatusSendsQueuedReply(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	cloud := addCloud(t, st, ws, 1)
	ep := addEndpoint(t, st, ws, "https://crm.example.com", event.Envelope, chathook.NoAggregation, append([]string{event.MessageNew}, factEvents...)...)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	drain(t, st, t0)
	r := queueReply(t, st, ws, chat, "", "hello", at(1))
	if got := claimReplies(t, st, "a", at(1)); len(got) != 1 {
		t.Fatalf("claimed %+v", got)
	}
	f := chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "wamid.R", ReplyID: r.ID, Status: chathook.StatusDelivered, At: at(2)}
	res, queued := record(t, st, cloud.ID, at(3), f)
	if res[0] != chathook.FactApplied || !queued {
		t.Fatalf("result %v, queued %v", res, queued)
	}
	got, err := st.Reply(ctx, ws, chat, r.ID)
	if err != nil || got.State != chathook.ReplySent || got.WAID != "wamid.R" || !got.SentAt.Equal(at(2)) {
		t.Errorf("reply %+v (%v), want sent as wamid.R", got, err)
	}
	if q, err := st.ReplySent(ctx, "a", r.ID, "wamid.R", at(4)); !errors.Is(err, store.ErrNotOurs) || q {
		t.Errorf("the sender's late ReplySent: %v, %v; want ErrNotOurs", q, err)
	}
	if err := st.ReplyFailed(ctx, "a", r.ID, "timeout", at(5), at(4)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("the sender's late ReplyFailed: %v, want ErrNotOurs", err)
	}
	if res, _ := record(t, st, cloud.ID, at(5), f); res[0] != chathook.FactRepeat {
		t.Errorf("the status again: %v", res)
	}
	told := drain(t, st, at(6))
	if want := []string{event.MessageNew, event.MessageStatus}; !slices.Equal(typesOf(told), want) {
		t.Fatalf("told %v, want %v", typesOf(told), want)
	}
	if told[0].MessageID != "wamid.R" || told[1].Data["status"] != "delivered" || told[1].Data["message_uuid"] != r.ID ||
		told[1].Data["message_id"] != "wamid.R" || told[0].Lane != told[1].Lane || told[1].Endpoint != ep.ID {
		t.Errorf("told %+v", told)
	}
	m := replyTimeline(t, st, ws, chat)[1]
	if m.UUID != r.ID || m.MessageID != "wamid.R" || m.Reply != chathook.ReplySent || m.Status != chathook.StatusDelivered {
		t.Errorf("timeline %+v", m)
	}
	if got, _ := st.Reply(ctx, ws, chat, r.ID); got.State != chathook.ReplySent {
		t.Errorf("after the late failure the reply is %s", got.State)
	}
	if got := claimReplies(t, st, "b", at(10)); len(got) != 0 {
		t.Errorf("a sent reply was claimed again: %+v", got)
	}
}

// A status after ReplySent recorded the reply only moves its status on:
// the "sent" ReplySent told is not told again, nor the message.
func testStatusAfterReplySent(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	cloud := addCloud(t, st, ws, 1)
	addEndpoint(t, st, ws, "https://crm.example.com", event.Envelope, chathook.NoAggregation, append([]string{event.MessageNew}, factEvents...)...)
	chat := chatOf(t, st, ws, cloud.Phone, 1, 1)
	r := queueReply(t, st, ws, chat, "", "hello", at(1))
	claimReplies(t, st, "a", at(1))
	sent(t, st, "a", r.ID, "wamid.S", at(2))
	status := func(s chathook.MessageStatus) chathook.Fact {
		return chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "wamid.S", ReplyID: r.ID, Status: s, At: at(3)}
	}
	res, _ := record(t, st, cloud.ID, at(3), status(chathook.StatusSent), status(chathook.StatusDelivered))
	if !slices.Equal(res, []chathook.FactResult{chathook.FactRepeat, chathook.FactApplied}) {
		t.Errorf("results %v, want sent a repeat of ReplySent's", res)
	}
	told := drain(t, st, at(4))
	want := []string{event.MessageNew, event.MessageNew, event.MessageStatus, event.MessageStatus}
	if !slices.Equal(typesOf(told), want) || told[2].Data["status"] != "sent" || told[3].Data["status"] != "delivered" {
		t.Errorf("told %+v, want %v", told, want)
	}
}

// An uncertain reply of a QR account, found by its WAID, is sent by a
// receipt of it.
func testStatusSendsUncertainReply(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "3EB0U", "hello", at(1))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	if err := st.ReplyUncertain(ctx, "a", r.ID, "no answer from WhatsApp", at(2)); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, st, at(2)); len(got) != 0 {
		t.Errorf("an uncertain reply told %v", typesOf(got))
	}
	res, _ := record(t, st, s.acc.ID, at(3), chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "3EB0U", Status: chathook.StatusRead, At: at(3)})
	if res[0] != chathook.FactApplied {
		t.Fatalf("result %v", res)
	}
	if got, _ := st.Reply(ctx, s.ws, s.chat, r.ID); got.State != chathook.ReplySent || got.Error != "" || got.WAID != "3EB0U" {
		t.Errorf("reply %+v, want sent", got)
	}
	told := drain(t, st, at(4))
	if want := []string{event.MessageNew, event.MessageStatus}; !slices.Equal(typesOf(told), want) || told[1].Data["status"] != "read" {
		t.Errorf("told %+v, want %v", told, want)
	}
}

// ReplyUncertain gives the reply up, saying why, for good: no claim takes
// it again, and no status is told. Only its owner may.
func testUncertainNeverClaimed(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "3EB0U", "hello", at(1))
	queueReply(t, st, s.ws, s.chat, "3EB0V", "and this", at(2))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	if err := st.ReplyUncertain(ctx, "b", r.ID, "not ours", at(2)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("another owner's ReplyUncertain: %v, want ErrNotOurs", err)
	}
	if got, _ := st.Reply(ctx, s.ws, s.chat, r.ID); got.State != chathook.ReplyQueued {
		t.Errorf("another owner's ReplyUncertain made it %s", got.State)
	}
	if err := st.ReplyUncertain(ctx, "a", r.ID, "the instance stopped during the attempt", at(2)); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Reply(ctx, s.ws, s.chat, r.ID)
	if got.State != chathook.ReplyUncertain || got.Error != "the instance stopped during the attempt" {
		t.Errorf("reply %+v", got)
	}
	if m := s.message(t, st, r.ID); m.Reply != chathook.ReplyUncertain || m.ReplyError != got.Error {
		t.Errorf("message %+v", m)
	}
	claimed := claimReplies(t, st, "c", at(2).Add(2*lease), s.acc.ID)
	if ids := replyIDs(claimed); !slices.Equal(ids, []string{"and this"}) {
		t.Errorf("claimed %v, want the chat's next reply only", ids)
	}
	if _, err := st.ReplySent(ctx, "a", r.ID, "3EB0U", at(3)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("ReplySent of an uncertain reply: %v, want ErrNotOurs", err)
	}
	if got := drain(t, st, at(3)); len(got) != 0 {
		t.Errorf("told %v", typesOf(got))
	}
}

// ReplySent of a reply its owner lost, or sent already, is ErrNotOurs.
func testReplySentNotOurs(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "3EB0N", "hello", at(1))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	if _, err := st.ReplySent(ctx, "b", r.ID, "3EB0N", at(2)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("another owner's ReplySent: %v, want ErrNotOurs", err)
	}
	if !sent(t, st, "a", r.ID, "3EB0N", at(2)) {
		t.Error("the owner's ReplySent queued nothing")
	}
	if q, err := st.ReplySent(ctx, "a", r.ID, "3EB0N", at(3)); !errors.Is(err, store.ErrNotOurs) || q {
		t.Errorf("ReplySent again: %v, %v; want ErrNotOurs", q, err)
	}
	if told := drain(t, st, at(4)); !slices.Equal(typesOf(told), []string{event.MessageNew, event.MessageStatus}) {
		t.Errorf("told %v", typesOf(told))
	}
}

// accountTold claims the account events due at at.
func accountTold(t *testing.T, st store.Store, at time.Time) []told {
	t.Helper()
	var out []told
	for _, x := range drain(t, st, at) {
		if x.Type == event.AccountConnected || x.Type == event.AccountLost {
			out = append(out, x)
		}
	}
	return out
}

func accountReason(x told) string {
	return x.Data["whatsapp_account"].(map[string]any)["reason"].(string)
}

func accountState(x told) string {
	return x.Data["whatsapp_account"].(map[string]any)["state"].(string)
}

// BanAccount: banned until, lease released, one email, disconnected told
// once; a repeat moves until only.
func testBanAccount(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	addEndpoint(t, st, ws, "https://ops.example.com", event.Envelope, chathook.NoAggregation, event.All)
	a := link(t, st, ws, 1, "i1", t0.Add(time.Hour))
	accountTold(t, st, t0)
	until := t0.Add(24 * time.Hour)
	banned, err := st.BanAccount(ctx, a.ID, until, at(1))
	if err != nil {
		t.Fatal(err)
	}
	if banned.State != chathook.AccountBanned || !banned.StateUntil.Equal(until) {
		t.Errorf("banned %+v", banned)
	}
	if read, _ := st.Account(ctx, ws, a.ID); read.State != chathook.AccountBanned || !read.StateUntil.Equal(until) {
		t.Errorf("reads %+v", read)
	}
	e := mustOneEmail(t, st, at(1))
	if e.Kind != "account_banned" || e.Reason != a.Phone+" 2026-03-02T12:00:00Z" || e.Workspace.ID != ws {
		t.Errorf("email %+v", e)
	}
	told := accountTold(t, st, at(1))
	if len(told) != 1 || told[0].Type != event.AccountLost || accountState(told[0]) != "banned" ||
		accountReason(told[0]) != "banned until 2026-03-02T12:00:00Z" {
		t.Errorf("told %+v", told)
	}
	// Released, and claimed by no one while banned.
	if got := claimAccounts(t, st, "i2", at(2), 10); len(got) != 0 {
		t.Errorf("claimed %v during the ban", got)
	}
	// A repeat moves until, and nothing else.
	later := until.Add(time.Hour)
	again, err := st.BanAccount(ctx, a.ID, later, at(3))
	if err != nil || again.State != chathook.AccountBanned || !again.StateUntil.Equal(later) {
		t.Errorf("again %+v (%v)", again, err)
	}
	if due, err := st.DueEmails(ctx, at(3), 10); err != nil || len(due) != 0 {
		t.Errorf("a repeat emailed %+v (%v)", due, err)
	}
	if told := accountTold(t, st, at(3)); len(told) != 0 {
		t.Errorf("a repeat told %+v", told)
	}
	if got := claimAccounts(t, st, "i2", until, 10); len(got) != 0 {
		t.Errorf("claimed %v at the first until, which the repeat moved", got)
	}
	// A ban of an account at rest changes nothing, so that its end does
	// not connect again what a person ended.
	b := link(t, st, ws, 2, "i1", t0.Add(time.Hour))
	setState(t, st, b.ID, chathook.AccountLoggedOut)
	accountTold(t, st, at(4))
	drainEmails(t, st, at(4))
	if got, err := st.BanAccount(ctx, b.ID, until, at(4)); err != nil || got.State != chathook.AccountLoggedOut || !got.StateUntil.IsZero() {
		t.Fatalf("a ban after a logout: %+v (%v), want it left logged out", got, err)
	}
	if told := accountTold(t, st, at(4)); len(told) != 0 {
		t.Errorf("a ban after a logout told %+v", told)
	}
	if got := claimAccounts(t, st, "i2", until.Add(time.Hour), 10); slices.Contains(got, b.ID) {
		t.Error("the logged-out account was claimed once the ban it never had ended")
	}
	// One a teammate asked to disconnect is disconnected: a banned device
	// cannot be logged out, and nobody else is told or emailed.
	d := link(t, st, ws, 4, "i1", t0.Add(time.Hour))
	setState(t, st, d.ID, chathook.AccountDisconnecting)
	accountTold(t, st, at(5))
	drainEmails(t, st, at(5))
	if got, err := st.BanAccount(ctx, d.ID, until, at(5)); err != nil || got.State != chathook.AccountDisconnected || !got.StateUntil.IsZero() {
		t.Fatalf("a ban while disconnecting: %+v (%v), want disconnected", got, err)
	}
	if due, err := st.DueEmails(ctx, at(5), 10); err != nil || len(due) != 0 {
		t.Errorf("a ban while disconnecting emailed %+v (%v)", due, err)
	}
	// Only QR accounts are banned.
	cloud := addCloud(t, st, ws, 3)
	if _, err := st.BanAccount(ctx, cloud.ID, until, at(5)); err == nil {
		t.Error("a Cloud API number was banned")
	}
}

// Once the ban is over, ClaimAccounts takes the account up, connecting,
// and another state clears until.
func testBanEnds(t *testing.T, st store.Store) {
	ctx := context.Background()
	ws := workspace(t, st, "acme", "")
	a := link(t, st, ws, 1, "i1", t0.Add(time.Hour))
	other := link(t, st, ws, 2, "i1", t0.Add(time.Hour))
	until := t0.Add(2 * time.Hour)
	if _, err := st.BanAccount(ctx, a.ID, until, t0); err != nil {
		t.Fatal(err)
	}
	if got := claimAccounts(t, st, "i2", until.Add(-time.Second), 10); !slices.Equal(got, []int64{other.ID}) {
		t.Errorf("claimed %v a second before the ban ends, want only the free account", got)
	}
	got, err := st.ClaimAccounts(ctx, "i2", until, until.Add(lease), 10)
	if err != nil || len(got) != 2 || got[0].ID != a.ID || got[1].ID != other.ID {
		t.Fatalf("claimed %+v (%v), want the account whose ban ended and the free one", got, err)
	}
	if got[0].State != chathook.AccountConnecting || !got[0].StateUntil.IsZero() {
		t.Errorf("claimed as %+v, want connecting", got[0])
	}
	if read, _ := st.Account(ctx, ws, a.ID); read.State != chathook.AccountConnecting || !read.StateUntil.IsZero() {
		t.Errorf("reads %+v", read)
	}
	if got := claimAccounts(t, st, "i3", until.Add(lease+time.Second), 10); len(got) != 2 {
		t.Errorf("i3 took over %v once i2's lease ran out", got)
	}
	// A ban cut short by another state leaves no until behind.
	if _, err := st.BanAccount(ctx, other.ID, until.Add(time.Hour), until); err != nil {
		t.Fatal(err)
	}
	if s := setState(t, st, other.ID, chathook.AccountDisconnected); !s.StateUntil.IsZero() {
		t.Errorf("disconnected with until %v", s.StateUntil)
	}
}

// Outdated: one email per move, disconnected told, the lease released and
// no claim until Reconnect.
func testOutdated(t *testing.T, st store.Store) {
	ws := workspace(t, st, "acme", "")
	addEndpoint(t, st, ws, "https://ops.example.com", event.Envelope, chathook.NoAggregation, event.AccountLost)
	a := link(t, st, ws, 1, "i1", t0.Add(time.Hour))
	for range 2 {
		if got := setState(t, st, a.ID, chathook.AccountOutdated); got.State != chathook.AccountOutdated {
			t.Errorf("state %s", got.State)
		}
	}
	e := mustOneEmail(t, st, t0)
	if e.Kind != "account_outdated" || !strings.Contains(e.Reason, a.Phone) || !strings.Contains(e.Reason, "outdated") {
		t.Errorf("email %+v", e)
	}
	told := accountTold(t, st, t0)
	if len(told) != 1 || accountState(told[0]) != "outdated" ||
		accountReason(told[0]) != "WhatsApp refuses this chathook's version as outdated: update chathook" {
		t.Errorf("told %+v", told)
	}
	if got := claimAccounts(t, st, "i2", t0.Add(time.Second), 10); len(got) != 0 {
		t.Errorf("claimed %v of an outdated account", got)
	}
	setState(t, st, a.ID, chathook.AccountConnecting)
	if got := claimAccounts(t, st, "i2", t0.Add(time.Second), 10); !slices.Equal(got, []int64{a.ID}) {
		t.Errorf("after Reconnect claimed %v", got)
	}
}

// drainEmails hands out the emails due at now, so that a later DueEmails
// within chathook's EmailLease shows only new ones.
func drainEmails(t *testing.T, st store.Store, now time.Time) {
	t.Helper()
	if _, err := st.DueEmails(context.Background(), now, 100); err != nil {
		t.Fatal(err)
	}
}

// Meta fails a reply chathook gave up as uncertain (no answer, so no
// wamid): found by its ReplyID, the reply fails with Meta's reason, its
// message's status is failed, and the event names it.
func testFailedStatusFailsUncertain(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "", "hello", at(1))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	if err := st.ReplyUncertain(ctx, "a", r.ID, "may have been sent: Meta did not answer", at(2)); err != nil {
		t.Fatal(err)
	}
	res, _ := record(t, st, s.acc.ID, at(3), chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: "wamid.NEVER",
		Status: chathook.StatusFailed, Error: "131047: Re-engagement message", ReplyID: r.ID, At: at(3)})
	if res[0] != chathook.FactApplied {
		t.Fatalf("result %v", res)
	}
	if got, _ := st.Reply(ctx, s.ws, s.chat, r.ID); got.State != chathook.ReplyFailed || got.Error != "131047: Re-engagement message" {
		t.Errorf("reply %+v, want failed with Meta's reason", got)
	}
	if m := s.message(t, st, r.ID); m.Status != chathook.StatusFailed {
		t.Errorf("its message's status %q, want failed", m.Status)
	}
	told := drain(t, st, at(4))
	if len(told) != 1 || told[0].Type != event.MessageStatus || told[0].Data["status"] != "failed" || told[0].Data["message_uuid"] != r.ID {
		t.Errorf("told %+v, want one failed message:status naming the reply", told)
	}
}

// A reaction to one of chathook's replies still queued (its attempt's
// answer not back yet) shows WhatsApp has it: the reply is sent, and its
// message:sent:new goes before the reaction; the attempt's own
// ReplySent then answers ErrNotOurs.
func testFactSendsQueuedReply(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newFactSetup(t, st)
	r := queueReply(t, st, s.ws, s.chat, "3EB0Q", "hello", at(1))
	claimReplies(t, st, "a", at(1), s.acc.ID)
	res, _ := record(t, st, s.acc.ID, at(2), chathook.Fact{Kind: chathook.FactReaction, Chat: factChat, MessageID: "3EB0Q", ID: "X1",
		Reaction: "👍", Sender: chathook.Person{FullName: "Bob", Phone: factChat}, SenderKey: factChat, At: at(2)})
	if res[0] != chathook.FactApplied {
		t.Fatalf("result %v", res)
	}
	if got, _ := st.Reply(ctx, s.ws, s.chat, r.ID); got.State != chathook.ReplySent || got.WAID != "3EB0Q" {
		t.Errorf("reply %+v, want sent", got)
	}
	if _, err := st.ReplySent(ctx, "a", r.ID, "3EB0Q", at(3)); !errors.Is(err, store.ErrNotOurs) {
		t.Errorf("the attempt's ReplySent: %v, want ErrNotOurs", err)
	}
	told := drain(t, st, at(4))
	if want := []string{event.MessageNew, event.MessageReaction}; !slices.Equal(typesOf(told), want) || told[1].Data["message_uuid"] != r.ID {
		t.Errorf("told %+v, want %v", told, want)
	}
}

// A fact no source makes (an unknown kind, a status without one) is an
// error, and nothing of its batch is recorded.
func testFactsChecked(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	good := chathook.Fact{Kind: chathook.FactStatus, Chat: factChat, MessageID: s.out.MessageID, Status: chathook.StatusRead, At: at(1)}
	for _, bad := range []chathook.Fact{
		{Kind: chathook.FactStatus, Chat: factChat, MessageID: s.out.MessageID, At: at(1)},
		{Kind: "pin", Chat: factChat, MessageID: s.out.MessageID, At: at(1)},
	} {
		if _, _, err := st.RecordFacts(context.Background(), s.acc.ID, at(1), []chathook.Fact{good, bad}); err == nil {
			t.Errorf("%+v recorded", bad)
		}
	}
	if m := s.message(t, st, s.out.UUID); m.Status != chathook.StatusNone {
		t.Errorf("status %q after refused batches", m.Status)
	}
	if told := drain(t, st, at(2)); len(told) != 0 {
		t.Errorf("refused batches told %v", typesOf(told))
	}
}

// The chat list's latest message says it was deleted, so that its
// preview never shows what was deleted for everyone.
func testChatListDeleted(t *testing.T, st store.Store) {
	s := newFactSetup(t, st)
	record(t, st, s.acc.ID, at(1), chathook.Fact{Kind: chathook.FactDeleted, Chat: factChat, MessageID: s.out.MessageID, ID: "R1", At: at(1)})
	chats, err := st.Chats(context.Background(), s.ws, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v (%v)", chats, err)
	}
	if last := chats[0].Last; last.UUID != s.out.UUID || !last.Deleted || !last.DeletedAt.Equal(at(1)) || last.Preview() != chathook.DeletedText {
		t.Errorf("the latest message %+v, preview %q", last, last.Preview())
	}
}
