package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

const (
	danaJID = "972500000001:7@s.whatsapp.net" // Dana's phone, linked by QR code
	bobUser = "972500000002"                  // a contact writing to it
)

// linkedService starts chathook over a fake WhatsApp with Dana's phone
// linked by QR code and online, and Bob's chat with it holding one
// message; it returns the service, WhatsApp and the chat's id.
func linkedService(t *testing.T) (*chathooktest.Service, *chathooktest.Workspace, *whatswebtest.Network, int64) {
	t.Helper()
	wa := whatswebtest.New()
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{WhatsApp: wa, AccountLease: 300 * time.Millisecond}})
	ws := svc.NewWorkspace(t, "acme")
	ws.AddUser(t, "owner@acme.example", "Olga Owner", browserPassword)
	// Linked elsewhere (`chathook account connect`), its lease run out:
	// the service's connector takes it.
	db, dialect := svc.Store.SessionDB()
	whatswebtest.SaveDevice(t, db, dialect, danaJID, "Dana Owner")
	if _, err := svc.Store.LinkAccount(context.Background(), ws.WorkspaceID, chathook.Account{
		Phone: "+972500000001", JID: danaJID, FullName: "Dana Owner", Email: "owner@acme.example",
	}, "the pairing machine", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	bob := types.NewJID(bobUser, types.DefaultUserServer)
	msg := &waE2E.Message{Conversation: proto.String("Hi! Is my order on its way?")}
	wa.Online(t, danaJID).Emit(&events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: bob, Sender: bob},
			ID:            "3EB0B0B0B0", Timestamp: time.Now().Add(-time.Minute), PushName: "Bob",
		},
		Message: msg, RawMessage: msg,
	})
	var chats []chathook.ChatSummary
	chathooktest.Eventually(t, "Bob's chat", func() bool {
		chats, _ = svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
		return len(chats) == 1
	})
	return svc, ws, wa, chats[0].ID
}

// A teammate answers from the chat page: Shift+Enter starts a new line,
// Enter sends; the box empties, the message shows at once "sending…",
// then "sent" once WhatsApp took it, without a reload.
func TestBrowserReply(t *testing.T) {
	svc, ws, wa, chat := linkedService(t)
	// WhatsApp takes the reply only once the test saw it "sending…".
	seen := make(chan struct{})
	wa.BeforeSend(func(whatswebtest.SentMessage) bool {
		select {
		case <-seen:
			return true
		case <-time.After(30 * time.Second):
			return false
		}
	})
	ctx := tab(t)
	do(t, ctx, "open Bob's chat", chromedp.Navigate(fmt.Sprintf("%s/chat/%d/messages/", svc.URL, chat)))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "see the chat", chromedp.WaitVisible(chromedp.ID("timeline")))
	if !run(t, ctx, "look for the reply box", chromedp.Evaluate[bool]("!!document.getElementById('reply')")) {
		t.Fatal("the chat page has no reply box: the service runs its web UI without web.Config.Replies")
	}
	do(t, ctx, "see the reply box", chromedp.WaitVisible(chromedp.ID("reply-text")), chromedp.WaitVisible(chromedp.ID("reply-hint")))
	run(t, ctx, "mark the page", chromedp.Evaluate[bool]("window.notReloaded = true"))

	do(t, ctx, "type two lines",
		chromedp.SendKeys(chromedp.ID("reply-text"), "It left this morning."),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.KeyEvent("Tracking: AC-20418"),
	)
	if got := run(t, ctx, "read the box", chromedp.Value(chromedp.ID("reply-text"))); got != "It left this morning.\nTracking: AC-20418" {
		t.Fatalf("after Shift+Enter the box holds %q", got)
	}
	if n := run(t, ctx, "count messages", chromedp.Evaluate[int]("document.querySelectorAll('.msg').length")); n != 1 {
		t.Fatalf("Shift+Enter sent something: %d messages", n)
	}

	do(t, ctx, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the reply in the timeline, sending", `(() => {
		const m = document.querySelector('.msg:last-of-type');
		return m && m.id.startsWith('m-') && m.querySelector('.text').textContent === 'It left this morning.\nTracking: AC-20418' &&
			m.querySelector('.sender').textContent === 'Olga Owner' &&
			m.querySelector('.reply-state').textContent === 'sending…' &&
			document.getElementById('reply-text').value === '' && document.getElementById('reply-error').hidden; })()`)
	id := run(t, ctx, "read the reply's id", chromedp.Evaluate[string]("document.querySelector('.msg:last-of-type').id.slice(2)"))
	close(seen)
	waitFor(t, ctx, "the reply sent, without a reload",
		`window.notReloaded === true && document.querySelector('.msg:last-of-type .reply-state').textContent === 'sent'`)
	r, err := svc.Store.Reply(context.Background(), ws.WorkspaceID, chat, id)
	if err != nil || r.State != chathook.ReplySent || r.Text != "It left this morning.\nTracking: AC-20418" || r.SentBy.FullName != "Olga Owner" {
		t.Errorf("stored %+v, %v", r, err)
	}
	if got := wa.Messages(); len(got) != 1 || got[0].From != danaJID || got[0].To != bobUser+"@s.whatsapp.net" ||
		got[0].Text != "It left this morning.\nTracking: AC-20418" {
		t.Errorf("WhatsApp got %+v, want the reply from Dana's phone to Bob", got)
	}

	// Enter in an empty box: the server's refusal beside it, nothing sent.
	do(t, ctx, "press Enter in the empty box", chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, "the refusal beside the box", `(() => {
		const e = document.getElementById('reply-error');
		return !e.hidden && e.textContent === 'Type a message first.' &&
			document.getElementById('reply-text').getAttribute('aria-invalid') === 'true'; })()`)
	if n := run(t, ctx, "count messages", chromedp.Evaluate[int]("document.querySelectorAll('.msg').length")); n != 2 {
		t.Errorf("%d messages after an empty Enter, want Bob's and the reply", n)
	}

	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("m-"+id)))
	if got := text(t, ctx, "#m-"+id+" .reply-state"); got != "sent" {
		t.Errorf("after a reload the reply reads %q", got)
	}
	screenshot(t, ctx, "reply", 1280, 800, false)
}
