package app_test

// Replies from chathook, through the whole service: POST
// /api/v1/chats/{chat_id}/messages commits a reply, the service's sender
// sends it through the QR account's connection (faked by whatswebtest
// behind the connector's Network), and the webhook then gets it as the
// teammate's sent message, in the chat's order, once.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// fastReplies retry at once and give up quickly, so that a test sees it.
func fastReplies(cfg app.Config) app.Config {
	cfg.ReplyBackoff = func(int) time.Duration { return 20 * time.Millisecond }
	cfg.ReplyLease = time.Second
	return cfg
}

// bobsChat stores a message of Bob's through the account's connection
// and returns the id of his chat, once the webhook got it.
func bobsChat(t *testing.T, svc *chathooktest.Service, ws *chathooktest.Workspace, client *whatswebtest.Client, sink *chathooktest.Sink) int64 {
	t.Helper()
	client.Emit(message("FROM-BOB", time.Now().Add(-time.Minute), text("Is my order on its way?")))
	sink.WaitFor(t, 1, 10*time.Second)
	chats, err := svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v (%v)", chats, err)
	}
	return chats[0].ID
}

// reply POSTs a reply to a chat and returns its message_id.
func reply(t *testing.T, ws *chathooktest.Workspace, chat int64, body any) string {
	t.Helper()
	status, data := ws.Do(t, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat), body)
	var got struct {
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(data, &got); status != 202 || err != nil || got.Status != "queued" || got.MessageID == "" {
		t.Fatalf("reply: %d %s", status, data)
	}
	return got.MessageID
}

type replyState struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
}

// awaitReply waits until the reply is no longer queued and returns its
// state.
func awaitReply(t *testing.T, ws *chathooktest.Workspace, chat int64, id string) replyState {
	t.Helper()
	var got replyState
	until(t, "the reply sent or failed", func() bool {
		status, data := ws.Do(t, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/%s", chat, id), nil)
		if status != 200 || json.Unmarshal(data, &got) != nil {
			t.Fatalf("GET reply: %d %s", status, data)
		}
		return got.Status != "queued"
	})
	return got
}

// qrReplies starts a service with Dana's account linked and online on a
// WhatsApp of the test's own, and Bob's chat delivered to a sink.
type qrReplies struct {
	wa     *whatswebtest.Network
	svc    *chathooktest.Service
	ws     *chathooktest.Workspace
	sink   *chathooktest.Sink
	client *whatswebtest.Client
	chat   int64
}

func startQRReplies(t *testing.T, db string, cfg app.Config) qrReplies {
	t.Helper()
	q := qrReplies{wa: whatswebtest.New(), sink: chathooktest.NewSink(t)}
	cfg.WhatsApp, cfg.AccountLease = q.wa, accountLease
	q.svc = chathooktest.Start(t, chathooktest.Options{DB: db, Config: fastReplies(cfg)})
	q.ws = q.svc.NewWorkspace(t, "acme")
	q.ws.PointAt(t, q.sink.URL+"/hook")
	linkAccount(t, q.svc, q.ws)
	q.client = q.wa.Online(t, danaJID)
	q.chat = bobsChat(t, q.svc, q.ws, q.client, q.sink)
	return q
}

// TestReplyThroughQRAccount: a program answers Bob through Dana's linked
// account. WhatsApp gets one message, under the id chathook chose; the
// webhook gets it after Bob's, as Jane's sent message; the account's own
// copy of it (its echo) is the same message, delivered once.
func TestReplyThroughQRAccount(t *testing.T) { onEveryStore(t, testReplyThroughQRAccount) }

func testReplyThroughQRAccount(t *testing.T, db string) {
	q := startQRReplies(t, db, app.Config{})
	wa, ws, sink, client, chat := q.wa, q.ws, q.sink, q.client, q.chat

	id := reply(t, ws, chat, map[string]any{"text": "Yes, it ships today 📦", "sent_by": map[string]string{"full_name": "Jane Smith", "email": "jane@acme.example"}})
	if got := awaitReply(t, ws, chat, id); got != (replyState{MessageID: id, Status: "sent"}) {
		t.Errorf("reply %+v, want sent", got)
	}
	got := wa.Messages()
	if len(got) != 1 || got[0].To != bobJID || got[0].From != danaJID || got[0].Text != "Yes, it ships today 📦" || !strings.HasPrefix(got[0].ID, "3EB0") {
		t.Fatalf("WhatsApp got %+v, want the reply to Bob once", got)
	}
	sent := chathooktest.Verified(t, ws, sink.WaitFor(t, 2, 10*time.Second)[1])
	if sent.Message.Direction != "sent" || sent.Message.ID != got[0].ID || sent.Message.Text != "Yes, it ships today 📦" ||
		sent.Message.Sender != (person{FullName: "Jane Smith", Phone: "+972500000001"}) ||
		sent.Message.Recipient != (person{FullName: "Bob Push", Phone: "+972500000002"}) || sent.Chat.IsNew {
		t.Errorf("delivered %+v", sent)
	}

	// The phone's copy of the reply comes back to the linked device: the
	// same message. Then one of Bob's, which is delivered: the echo was not.
	echo := message(got[0].ID, time.Now(), text("Yes, it ships today 📦"))
	echo.Info.IsFromMe = true
	echo.Info.Sender = types.NewJID("972500000001", types.DefaultUserServer)
	if !client.Emit(echo) {
		t.Error("the echo was not handled")
	}
	client.Emit(message("AFTER-ECHO", time.Now(), text("Great, thanks")))
	received := sink.WaitFor(t, 3, 10*time.Second)
	if last := chathooktest.Verified(t, ws, received[2]); last.Message.ID != "AFTER-ECHO" {
		t.Errorf("third POST is %q's, want Bob's thanks: the echo was delivered", last.Message.ID)
	}
}

// TestReplyRetriedThenRefused: a dropped connection is tried again under
// the same id (WhatsApp gets one message); WhatsApp's refusal fails the
// reply with the reason; a logged-out account fails it without a try; a
// group gets its reply.
func TestReplyRetriedThenRefused(t *testing.T) {
	q := startQRReplies(t, "", app.Config{})
	wa, svc, ws, sink, client, chat := q.wa, q.svc, q.ws, q.sink, q.client, q.chat

	wa.FailSends(2, whatsmeow.ErrNotConnected)
	id := reply(t, ws, chat, map[string]any{"text": "first"})
	if got := awaitReply(t, ws, chat, id); got.Status != "sent" {
		t.Errorf("after two dropped connections: %+v, want sent", got)
	}
	if sent, msgs := wa.Sent(), wa.Messages(); len(sent) != 1 || len(msgs) != 1 {
		t.Errorf("%d sends reached WhatsApp, %d messages; want 1 and 1 (the dropped ones never left)", len(sent), len(msgs))
	}
	if r, err := svc.Store.Reply(context.Background(), ws.WorkspaceID, chat, id); err != nil || r.Attempts != 3 {
		t.Errorf("reply %+v (%v), want 3 attempts", r, err)
	}
	if d := chathooktest.Verified(t, ws, sink.WaitFor(t, 2, 10*time.Second)[1]); d.Message.Sender.FullName != "Dana Owner" {
		t.Errorf("a reply without sent_by is sent by %q, want the account's name", d.Message.Sender.FullName)
	}

	wa.FailSends(1, fmt.Errorf("%w 479", whatsmeow.ErrServerReturnedError))
	id = reply(t, ws, chat, map[string]any{"text": "second"})
	if got := awaitReply(t, ws, chat, id); got.Status != "failed" || !strings.HasPrefix(got.Error, "WhatsApp refused it") {
		t.Errorf("after WhatsApp's refusal: %+v", got)
	}

	wa.SetGroup("120363000000000001@g.us", "Shipping team")
	group := message("IN-GROUP", time.Now(), text("who ships today?"))
	group.Info.Chat = types.NewJID("120363000000000001", types.GroupServer)
	client.Emit(group)
	sink.WaitFor(t, 3, 10*time.Second)
	chats, _ := svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	id = reply(t, ws, chats[0].ID, map[string]any{"text": "I do"})
	if got := awaitReply(t, ws, chats[0].ID, id); got.Status != "sent" {
		t.Errorf("group reply %+v", got)
	}
	if msgs := wa.Messages(); msgs[len(msgs)-1].To != "120363000000000001@g.us" {
		t.Errorf("group reply went to %s", msgs[len(msgs)-1].To)
	}
	if d := chathooktest.Verified(t, ws, sink.WaitFor(t, 4, 10*time.Second)[3]); !d.Chat.IsGroup || d.Message.Recipient != (person{FullName: "Shipping team"}) {
		t.Errorf("group reply delivered %+v", d)
	}

	client.Emit(&events.LoggedOut{})
	until(t, "the account logged out", func() bool {
		a, err := svc.Store.Accounts(context.Background(), ws.WorkspaceID)
		return err == nil && a[0].State == chathook.AccountLoggedOut
	})
	id = reply(t, ws, chat, map[string]any{"text": "third"})
	if got := awaitReply(t, ws, chat, id); got.Status != "failed" || !strings.Contains(got.Error, "logged out") {
		t.Errorf("reply of a logged-out account: %+v", got)
	}
	if n := len(wa.Sent()); n != 2 {
		t.Errorf("%d sends reached WhatsApp, want the first reply's and the group's: the logged-out account's was tried", n)
	}
}

// TestReplySurvivesACrash: two instances on one PostgreSQL. The one
// holding the account dies in the middle of an attempt, before or after
// WhatsApp took the message, without recording it. The other takes the
// account over and sends the reply again under the same id: the phones
// show one message, and the webhook gets it once.
func TestReplySurvivesACrash(t *testing.T) {
	for _, taken := range []bool{false, true} {
		t.Run(fmt.Sprintf("taken=%v", taken), func(t *testing.T) { testReplySurvivesACrash(t, taken) })
	}
}

func testReplySurvivesACrash(t *testing.T, taken bool) {
	db := chathooktest.Postgres(t)
	netA := whatswebtest.New()
	netB := netA.Sibling()
	cfg := fastReplies(app.Config{AccountLease: accountLease})
	cfg.WhatsApp = netA
	a := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	cfg.WhatsApp = netB
	b := chathooktest.Start(t, chathooktest.Options{DB: db, Config: cfg})
	ws := a.NewWorkspace(t, "acme")
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	linkAccount(t, a, ws)

	var holder, other *chathooktest.Service
	var client *whatswebtest.Client
	until(t, "the account connected by an instance", func() bool {
		for _, c := range []struct {
			net         *whatswebtest.Network
			svc, others *chathooktest.Service
		}{{netA, a, b}, {netB, b, a}} {
			for _, cl := range c.net.Clients() {
				if cl.JID() == danaJID && cl.Connected() {
					holder, other, client = c.svc, c.others, cl
					return true
				}
			}
		}
		return false
	})
	chat := bobsChat(t, holder, ws, client, sink)

	crashed := make(chan struct{})
	first := true
	crash := func() bool {
		if !first {
			return false
		}
		first = false
		holder.Crash()
		close(crashed)
		return true
	}
	if taken {
		netA.AfterSend(func(whatswebtest.SentMessage) { crash() })
	} else {
		netA.BeforeSend(func(whatswebtest.SentMessage) bool { return !crash() })
	}
	id := reply(t, ws.On(other), chat, map[string]any{"text": "sent once", "sent_by": map[string]string{"full_name": "Jane Smith"}})
	<-crashed
	holder.Kill(t)
	if got := awaitReply(t, ws.On(other), chat, id); got.Status != "sent" {
		t.Fatalf("reply %+v, want sent by the other instance", got)
	}
	sent, msgs := netA.Sent(), netA.Messages()
	wantSends := 1
	if taken {
		wantSends = 2
	}
	if len(sent) != wantSends || len(msgs) != 1 || sent[0].ID != sent[len(sent)-1].ID {
		t.Errorf("WhatsApp got %+v (%d messages), want %d sends under one id", sent, len(msgs), wantSends)
	}
	d := chathooktest.Verified(t, ws, sink.WaitFor(t, 2, 10*time.Second)[1])
	other.Stop(t)
	if n := sink.Attempts(); n != 2 {
		t.Errorf("%d POSTs, want Bob's and the reply's", n)
	}
	if d.Message.ID != msgs[0].ID || d.Message.Sender.FullName != "Jane Smith" {
		t.Errorf("delivered %+v", d)
	}
	netA.NoOverlap(t)
}

// TestReplyGivenUpWhenNotConnected: an account that cannot reach
// WhatsApp keeps its replies queued until ReplyMaxWait has passed, then
// fails them saying so; nothing reaches WhatsApp or the webhook.
func TestReplyGivenUpWhenNotConnected(t *testing.T) {
	maxWait := 500 * time.Millisecond
	q := startQRReplies(t, "", app.Config{ReplyMaxWait: maxWait})
	wa, svc, ws, sink, client, chat := q.wa, q.svc, q.ws, q.sink, q.client, q.chat

	wa.SetUnreachable(true)
	client.Disconnect()
	client.Emit(&events.Disconnected{})
	id := reply(t, ws, chat, map[string]any{"text": "are you there?"})
	queuedAt := time.Now()
	got := awaitReply(t, ws, chat, id)
	if got.Status != "failed" || !strings.Contains(got.Error, "not connected to WhatsApp") {
		t.Errorf("reply %+v, want failed: not connected", got)
	}
	if waited := time.Since(queuedAt); waited < maxWait {
		t.Errorf("given up after %s, before ReplyMaxWait", waited)
	}
	if n := len(wa.Sent()); n != 0 {
		t.Errorf("%d sends reached WhatsApp", n)
	}
	svc.Stop(t)
	if n := sink.Attempts(); n != 1 {
		t.Errorf("%d POSTs, want Bob's only", n)
	}
}

// TestReplyTimedOutIsUncertain: WhatsApp never answers an attempt in
// time; it may have taken the message each time, so the reply given up
// after ReplyMaxWait is uncertain, not failed, and says so.
func TestReplyTimedOutIsUncertain(t *testing.T) {
	q := startQRReplies(t, "", app.Config{ReplyMaxWait: 500 * time.Millisecond})
	q.wa.FailSends(1000, whatsmeow.ErrMessageTimedOut)
	id := reply(t, q.ws, q.chat, map[string]any{"text": "are you there?"})
	got := awaitReply(t, q.ws, q.chat, id)
	if got.Status != "uncertain" || !strings.HasPrefix(got.Error, "may have been sent: ") {
		t.Errorf("reply %+v, want uncertain: it may have been sent", got)
	}
}
