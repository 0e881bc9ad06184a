package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/google/uuid"
)

// said is one message of a conversation for ingestAt: its time, text,
// whether it was sent from the account, and its WhatsApp id ("": any).
type said struct {
	at   time.Time
	text string
	sent bool
	id   string
}

// ingestAt stores msgs in the chat named chatName of the API-made
// account +15550000000 (its sender Dana Levi) and returns the chat's id
// and the messages' UUIDs.
func (h *harness) ingestAt(ws, chatName string, msgs ...said) (int64, []string) {
	h.t.Helper()
	var in []chathook.Incoming
	var ids []string
	for _, m := range msgs {
		dir, sender := chathook.Received, &chathook.Person{FullName: chatName, Phone: "+15551000001"}
		if m.sent {
			dir, sender = chathook.Sent, &chathook.Person{FullName: "Dana Levi", Phone: "+15550000000"}
		}
		if m.id == "" {
			m.id = uuid.NewString()
		}
		id := uuid.NewString()
		ids = append(ids, id)
		in = append(in, chathook.Incoming{
			Account:   chathook.Account{Phone: "+15550000000", FullName: "Agent"},
			Chat:      chathook.Chat{ExternalID: chatPhone(chatName), Phone: "+15551000001", FullName: chatName},
			MessageID: m.id, UUID: id, Direction: dir, Sender: sender, Timestamp: m.at, Text: m.text,
		})
	}
	res, err := h.st.Ingest(context.Background(), ws, h.clock(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	return res[0].ChatID, ids
}

// Where the chat's account cannot send, the page says why, for a person,
// and offers no box; where it can, the box is there, with a note when the
// account is offline and its replies will wait.
func TestChatPageReplyBoxOnlyWhereItCanSend(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	v := h.signedIn("acme")
	apiChat := h.ingest(h.ws.WorkspaceID, "Only API", "hello")
	a := v.get(fmt.Sprintf("/chat/%d/messages/", apiChat))
	if a.status != http.StatusOK || strings.Contains(a.body, `id="reply-text"`) || !strings.Contains(a.body, `id="cannot-reply"`) ||
		!strings.Contains(a.body, "This chat came in through the API: chathook has no WhatsApp account to answer from.") {
		t.Errorf("an API-only chat: %d, want no box and the reason:\n%s", a.status, a.body)
	}

	other := h.workspace("other")
	linked, acc := h.linkedChat(other.WorkspaceID, "Linked", "hi")
	_ = linked
	w := h.signedIn("other")
	a = w.get(fmt.Sprintf("/chat/%d/messages/", linked))
	if !strings.Contains(a.body, `id="reply-text"`) || strings.Contains(a.body, `id="cannot-reply"`) || strings.Contains(a.body, `id="account-note"`) {
		t.Errorf("a linked, connecting account's chat: want the box alone:\n%s", a.body)
	}
	if _, err := h.st.SetAccountState(context.Background(), acc, chathook.AccountDisconnected, h.clock()); err != nil {
		t.Fatal(err)
	}
	a = w.get(fmt.Sprintf("/chat/%d/messages/", linked))
	if !strings.Contains(a.body, `id="reply-text"`) || !strings.Contains(a.body, `id="account-note"`) ||
		!strings.Contains(a.body, "is not connected (disconnected): replies wait") {
		t.Errorf("a disconnected account's chat: want the box and a note:\n%s", a.body)
	}
}

// Without script the page is in UTC and says so: every time has its
// RFC 3339 datetime, bubbles say "22:30 UTC", and the day separators
// split at UTC midnight. Text is isolated (dir="auto", <bdi>), links are
// links, and a javascript: text is not one.
func TestChatPageTimesAndText(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	late := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
	chat, ids := h.ingestAt(h.ws.WorkspaceID, "דנה כהן",
		said{at: late.Add(-time.Hour), text: "בטח, זה יעלה 120 ₪. OK?"},
		said{at: late, text: "see https://example.com/order?id=7&x=1. and javascript:alert(1)"},
		said{at: late.Add(2 * time.Hour), text: "<b>not bold</b>"},
	)
	// Its account linked by QR code, so that the page has a reply box.
	if _, err := h.st.LinkAccount(context.Background(), h.ws.WorkspaceID, chathook.Account{
		Phone: "+15550000000", JID: "15550000000:3@s.whatsapp.net", FullName: "Agent", Email: "owner@acme.example",
	}, "elsewhere", h.clock().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v := h.signedIn("acme")
	a := v.get(fmt.Sprintf("/chat/%d/messages/", chat))
	if a.status != http.StatusOK {
		t.Fatalf("chat page: %d", a.status)
	}
	body := a.body
	if !strings.Contains(article(body, ids[1]), `<time class="clock" datetime="2026-03-01T22:30:00Z">22:30 UTC</time>`) {
		t.Errorf("the 22:30Z message's time:\n%s", article(body, ids[1]))
	}
	sun, mon := strings.Index(body, "Sunday, 1 March 2026"), strings.Index(body, "Monday, 2 March 2026")
	if sun < 0 || mon < 0 || !(sun < strings.Index(body, `id="m-`+ids[1]) && strings.Index(body, `id="m-`+ids[1]) < mon && mon < strings.Index(body, `id="m-`+ids[2])) {
		t.Errorf("the UTC day separators are not around midnight UTC (%d, %d)", sun, mon)
	}
	for _, m := range regexp.MustCompile(`<time[^>]*>`).FindAllString(body, -1) {
		if !regexp.MustCompile(`datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`).MatchString(m) {
			t.Errorf("a time without an RFC 3339 UTC datetime: %s", m)
		}
	}
	if !strings.Contains(article(body, ids[0]), `<p class="text" dir="auto">בטח, זה יעלה 120 ₪. OK?</p>`) {
		t.Errorf("the Hebrew bubble is not dir=auto:\n%s", article(body, ids[0]))
	}
	if !strings.Contains(body, `<h1 id="chat-name"><bdi>דנה כהן</bdi></h1>`) || !strings.Contains(body, `<bdi class="sender">דנה כהן</bdi>`) ||
		!regexp.MustCompile(`<textarea id="reply-text"[^>]* dir="auto"`).MatchString(body) {
		t.Error("the chat's name, the sender or the reply box is not isolated (dir=auto, bdi)")
	}
	link := `<a href="https://example.com/order?id=7&amp;x=1" target="_blank" rel="noopener noreferrer nofollow">https://example.com/order?id=7&amp;x=1</a>. and javascript:alert(1)`
	if m := article(body, ids[1]); !strings.Contains(m, link) || strings.Contains(m, `href="javascript`) {
		t.Errorf("the link message:\n%s", m)
	}
	if !strings.Contains(article(body, ids[2]), "&lt;b&gt;not bold&lt;/b&gt;") {
		t.Errorf("markup in a message is not escaped:\n%s", article(body, ids[2]))
	}
}

// Opening the chat's latest messages marks it read for the user who
// opened it, up to the newest; an older page does not.
func TestChatPageMarksRead(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	ctx := context.Background()
	var msgs []said
	for i := range 60 {
		msgs = append(msgs, said{at: time.Date(2026, 3, 1, 9, i, 0, 0, time.UTC), text: fmt.Sprint("m", i)})
	}
	chat, _ := h.ingestAt(h.ws.WorkspaceID, "Ann", msgs...)
	u, _, err := h.st.UserByEmail(ctx, "owner@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	unread := func() int {
		t.Helper()
		list, err := h.st.Chats(ctx, h.ws.WorkspaceID, store.ChatQuery{UserID: u.ID, Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("chats: %v %d", err, len(list))
		}
		return list[0].Unread
	}
	// Stored last but sent early (a late webhook): above the newest by id.
	h.ingestAt(h.ws.WorkspaceID, "Ann", said{at: time.Date(2026, 3, 1, 9, 30, 30, 0, time.UTC), text: "late"})
	if n := unread(); n != 61 {
		t.Fatalf("before opening: %d unread, want 61", n)
	}
	v := h.signedIn("acme")
	// A live fetch in a tab nobody looks at marks nothing.
	req, _ := http.NewRequest(http.MethodGet, v.h.base+fmt.Sprintf("/chat/%d/messages/", chat), nil)
	req.Header.Set("X-Chathook-Background", "1")
	if a := v.do(req); a.status != http.StatusOK {
		t.Fatalf("background fetch: %d", a.status)
	}
	if n := unread(); n != 61 {
		t.Errorf("after a background fetch: %d unread, want 61", n)
	}
	page := v.get(fmt.Sprintf("/chat/%d/messages/", chat))
	older := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(page.body)
	if older == nil {
		t.Fatal("no Older link")
	}
	if n := unread(); n != 0 {
		t.Errorf("after opening the latest page: %d unread, want 0", n)
	}
	h.ingestAt(h.ws.WorkspaceID, "Ann", said{at: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), text: "new"})
	v.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	if n := unread(); n != 1 {
		t.Errorf("after opening an older page: %d unread, want 1 (the new one)", n)
	}
}

// The Recover form's times are the browser's when its script gave the
// zone (tz), and UTC without it, as the form then says.
func TestRecoverFormTakesLocalTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ctx := context.Background()
	hook := "https://hook.example.com/in"
	if _, err := h.st.UpdateWebhook(ctx, h.ws.WorkspaceID, chathook.Outbound, h.clock(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	h.ingest(h.ws.WorkspaceID, "Ann", "one")
	if n := h.failForGood(h.ws.WorkspaceID); n != 1 {
		t.Fatalf("failed %d deliveries, want 1", n)
	}
	h.advance(time.Second)
	v := h.signedIn("acme")
	page := v.get("/settings/webhooks/outbound")
	if !strings.Contains(page.body, `<input type="hidden" name="tz" value="">`) || !strings.Contains(page.body, ">From (UTC)</label>") {
		t.Fatal("the form has no tz field, or does not say UTC without script")
	}
	jerusalem, err := time.LoadLocation("Asia/Jerusalem")
	if err != nil {
		t.Fatal(err)
	}
	// The same wall time is a minute before the delivery in Jerusalem,
	// and two hours minus a minute after it in UTC.
	wall := func(loc *time.Location, d time.Duration) string {
		return h.clock().Add(d).In(loc).Format("2006-01-02T15:04")
	}
	since, until := wall(jerusalem, -time.Minute), wall(jerusalem, time.Hour)
	a := v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}, "until": {until}})
	if a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "recovered=0") {
		t.Errorf("without tz, read as UTC: %d %s, want nothing recovered", a.status, a.header.Get("Location"))
	}
	a = v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}, "until": {until}, "tz": {"Asia/Jerusalem"}})
	if a.status != http.StatusSeeOther || !strings.Contains(a.header.Get("Location"), "recovered=1") {
		t.Errorf("with tz Asia/Jerusalem: %d %s, want 1 recovered", a.status, a.header.Get("Location"))
	}
	a = v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}, "tz": {"Mars/Olympus"}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="since-error"`) || !strings.Contains(a.body, "Mars/Olympus") {
		t.Errorf("an unknown zone: %d, want 422 beside since naming it", a.status)
	}
}
