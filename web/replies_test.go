package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/reply"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/web"
	"github.com/google/uuid"
)

// queueReplies is the web UI's Replier as the service's is, minus the
// sender it wakes: reply.Queue's validation and the store's commit, on
// the harness's clock.
type queueReplies struct {
	st  store.Store
	now func() time.Time
}

func (q queueReplies) Queue(ctx context.Context, workspaceID string, chatID int64, text string, by chathook.Teammate) (chathook.Reply, error) {
	return reply.Queue(ctx, q.st, workspaceID, chatID, text, by, q.now())
}

// withReplies is a harness whose chat pages reply through queueReplies.
func withReplies(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, true, "", func(cfg *web.Config) {
		cfg.Replies = queueReplies{st: cfg.Store, now: cfg.Now}
	})
}

const replyOwner = "web-test-sender"

// linkedChat is a chat of workspace ws whose account is linked by QR
// code, so that it can be replied to; its id and the account's.
func (h *harness) linkedChat(ws, name string, texts ...string) (chatID, accountID int64) {
	h.t.Helper()
	chatID = h.ingest(ws, name, texts...)
	// Linking the ingest API's phone makes its account a QR-linked one;
	// its chats stay its.
	acc, err := h.st.LinkAccount(context.Background(), ws, chathook.Account{
		Phone: "+15550000000", JID: "15550000000:3@s.whatsapp.net", FullName: "Agent", Email: "owner@acme.example",
	}, "elsewhere", h.clock().Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	return chatID, acc.ID
}

// postJSON sends the reply form as the chat page's script does.
func (v *visitor) postJSON(path string, form url.Values) (answer, map[string]string) {
	v.t.Helper()
	a := v.post(path, form, "Accept", "application/json")
	var got map[string]string
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		v.t.Fatalf("POST %s: %d %q, want JSON: %s", path, a.status, ct, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		v.t.Fatalf("POST %s: %v: %s", path, err, a.body)
	}
	return a, got
}

// state reads a reply's state as the script does.
func (v *visitor) state(chatID int64, id string) (int, map[string]string) {
	v.t.Helper()
	a := v.get(fmt.Sprintf("/chat/%d/messages/%s/state", chatID, id))
	var got map[string]string
	_ = json.Unmarshal([]byte(a.body), &got)
	return a.status, got
}

// claim takes the chat's queued replies as a sender would.
func (h *harness) claim(accountID int64) []chathook.Outgoing {
	h.t.Helper()
	now := h.clock()
	out, err := h.st.ClaimReplies(context.Background(), replyOwner, store.ReplyClaim{
		Now: now, Until: now.Add(time.Minute), Web: []int64{accountID}, Stale: now.Add(-time.Hour), Limit: 10,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// article is the timeline's element of message id, "" if none.
func article(body, id string) string {
	i := strings.Index(body, `id="m-`+id+`"`)
	if i < 0 {
		return ""
	}
	end := strings.Index(body[i:], "</article>")
	return body[i : i+end]
}

// The chat page has a reply box when the service can send replies, and
// none when it cannot.
func TestReplyBox(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	chat, _ := h.linkedChat(h.ws.WorkspaceID, "John Doe", "hello")
	v := h.signedIn("acme")
	a := v.get(fmt.Sprintf("/chat/%d/messages/", chat))
	form := fmt.Sprintf(`<form method="post" action="/chat/%d/messages/" class="reply" id="reply"`, chat)
	if a.status != http.StatusOK || !strings.Contains(a.body, form) || !strings.Contains(a.body, `name="text"`) ||
		!strings.Contains(a.body, `id="reply-send"`) {
		t.Fatalf("no reply box: %d\n%s", a.status, a.body)
	}
	if i := strings.Index(a.body, form); !csrfField.MatchString(a.body[i:]) {
		t.Error("the reply form has no CSRF field")
	}

	without := newHarness(t, true, "")
	chat = without.ingest(without.ws.WorkspaceID, "John Doe", "hello")
	if a := without.signedIn("acme").get(fmt.Sprintf("/chat/%d/messages/", chat)); a.status != http.StatusOK || strings.Contains(a.body, `id="reply"`) {
		t.Errorf("without Replies: %d, a reply box shown", a.status)
	}
}

// A reply posted by the script is queued at once, shown "sending…" in
// the timeline with the teammate as sender; its state answers queued,
// then sent or failed with the reason as the store records them, and
// the page shows the same.
func TestReplyQueuedThenSentOrFailed(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	chat, acc := h.linkedChat(h.ws.WorkspaceID, "John Doe", "Is my order on its way?")
	v := h.signedIn("acme")
	page := fmt.Sprintf("/chat/%d/messages/", chat)
	v.get(page)

	a, got := v.postJSON(page, url.Values{"text": {"It left this morning.\r\nTracking: AC-20418"}})
	id := got["message_id"]
	if a.status != http.StatusAccepted || got["status"] != "queued" || id == "" {
		t.Fatalf("POST: %d %v", a.status, got)
	}
	r, err := h.st.Reply(context.Background(), h.ws.WorkspaceID, chat, id)
	if err != nil || r.Text != "It left this morning.\nTracking: AC-20418" || r.SentBy != (chathook.Teammate{FullName: "Owner", Email: "owner@acme.example"}) {
		t.Fatalf("stored %+v, %v", r, err)
	}
	msg := article(v.get(page).body, id)
	if !strings.Contains(msg, `<bdi class="sender">Owner</bdi>`) || !strings.Contains(msg, "It left this morning.\nTracking: AC-20418") ||
		!strings.Contains(msg, `data-reply="queued"`) || !strings.Contains(msg, "sending…") {
		t.Fatalf("the page shows the reply as %q", msg)
	}
	if status, st := v.state(chat, id); status != http.StatusOK || st["status"] != "queued" || st["message_id"] != id {
		t.Fatalf("state: %d %v", status, st)
	}

	out := h.claim(acc)
	if len(out) != 1 || out[0].ID != id {
		t.Fatalf("claimed %+v", out)
	}
	if _, err := h.st.ReplySent(context.Background(), replyOwner, id, out[0].WAID, h.clock()); err != nil {
		t.Fatal(err)
	}
	if status, st := v.state(chat, id); status != http.StatusOK || st["status"] != "sent" || st["error"] != "" {
		t.Errorf("state once sent: %d %v", status, st)
	}
	if msg := article(v.get(page).body, id); !strings.Contains(msg, `<p class="reply-state sent">sent</p>`) || strings.Contains(msg, "sending") {
		t.Errorf("the page shows the sent reply as %q", msg)
	}

	_, got = v.postJSON(page, url.Values{"text": {"Are you there?"}})
	id = got["message_id"]
	if out := h.claim(acc); len(out) != 1 || out[0].ID != id {
		t.Fatalf("claimed %+v", out)
	}
	const reason = "WhatsApp refused the message: the contact blocked this number"
	if err := h.st.ReplyFailed(context.Background(), replyOwner, id, reason, time.Time{}, h.clock()); err != nil {
		t.Fatal(err)
	}
	if status, st := v.state(chat, id); status != http.StatusOK || st["status"] != "failed" || st["error"] != reason {
		t.Errorf("state once failed: %d %v", status, st)
	}
	if msg := article(v.get(page).body, id); !strings.Contains(html.UnescapeString(msg), "failed: "+reason) {
		t.Errorf("the page shows the failed reply as %q", msg)
	}
}

// Without script, the form goes back to the chat's latest messages,
// where the reply shows queued; a refused one is the page again, with
// the reason beside the box and the text kept.
func TestReplyWithoutScript(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	chat, _ := h.linkedChat(h.ws.WorkspaceID, "John Doe", "hello")
	v := h.signedIn("acme")
	page := fmt.Sprintf("/chat/%d/messages/", chat)
	v.get(page)
	a := v.post(page, url.Values{"text": {"On its way <b>today</b>"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != page+"#reply" {
		t.Fatalf("POST: %d to %q, want 303 to %s#reply", a.status, a.header.Get("Location"), page)
	}
	body := v.get(page).body
	if !strings.Contains(body, "On its way &lt;b&gt;today&lt;/b&gt;</p>") || !strings.Contains(body, `<p class="reply-state queued">sending…</p>`) {
		t.Errorf("the latest page does not show the reply queued:\n%s", body)
	}

	a = v.post(page, url.Values{"text": {"   "}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `<p class="field-error" id="reply-error" role="alert">Type a message first.</p>`) ||
		!strings.Contains(a.body, "aria-describedby=\"reply-error\">\n   </textarea>") {
		t.Errorf("a blank reply: %d\n%s", a.status, a.body)
	}
}

// What cannot be sent is refused before it is queued, as JSON to the
// script: a blank or too long text naming the field, a chat whose
// account cannot send, another workspace's chat (404, exactly as one
// that does not exist), a form without its CSRF token.
func TestReplyRefused(t *testing.T) {
	t.Parallel()
	h := withReplies(t)
	beta := h.workspace("beta")
	theirs, _ := h.linkedChat(beta.WorkspaceID, "Their contact", "their words")
	// The ingest API's account of another phone than linkedChat links.
	res, err := h.st.Ingest(context.Background(), h.ws.WorkspaceID, h.clock(), []chathook.Incoming{{
		Account:   chathook.Account{Phone: "+15550000009", FullName: "API agent"},
		Chat:      chathook.Chat{ExternalID: "ext-api", Phone: "+15551000009", FullName: "API contact"},
		MessageID: "api-1", UUID: uuid.NewString(), Direction: chathook.Received,
		Timestamp: h.clock().Add(-time.Hour), Text: "from the ingest API",
	}})
	if err != nil {
		t.Fatal(err)
	}
	apiChat := res[0].ChatID
	ours, _ := h.linkedChat(h.ws.WorkspaceID, "Our contact", "our words")
	count := func() int {
		n := 0
		for _, c := range []struct {
			ws string
			id int64
		}{{h.ws.WorkspaceID, ours}, {h.ws.WorkspaceID, apiChat}, {beta.WorkspaceID, theirs}} {
			ms, err := h.st.Messages(context.Background(), c.ws, c.id, store.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n += len(ms)
		}
		return n
	}
	before := count()
	v := h.signedIn("acme")
	page := func(id int64) string { return fmt.Sprintf("/chat/%d/messages/", id) }
	v.get(page(ours))

	for _, tc := range []struct {
		name, path, text string
		status           int
		field, says      string
	}{
		{"empty", page(ours), "", http.StatusBadRequest, "text", "Type a message first."},
		{"blank", page(ours), " \r\n ", http.StatusBadRequest, "text", "Type a message first."},
		{"invisible", page(ours), "\u200b\u2060\ufeff", http.StatusBadRequest, "text", "Type a message first."},
		{"65,537 characters", page(ours), strings.Repeat("a", 65537), http.StatusBadRequest, "text", "65537 characters"},
		{"65,537 emoji", page(ours), strings.Repeat("👋", 65537), http.StatusBadRequest, "text", "65537 characters"},
		{"NUL", page(ours), "a\x00b", http.StatusBadRequest, "text", "NUL"},
		{"the ingest API's chat", page(apiChat), "hello", http.StatusConflict, "", "not connected to chathook"},
		{"another workspace's chat", page(theirs), "hello", http.StatusNotFound, "", "no such chat"},
		{"no such chat", "/chat/99999999/messages/", "hello", http.StatusNotFound, "", "no such chat"},
		{"not a chat id", "/chat/abc/messages/", "hello", http.StatusNotFound, "", "no such chat"},
	} {
		a, got := v.postJSON(tc.path, url.Values{"text": {tc.text}})
		if a.status != tc.status || got["field"] != tc.field || !strings.Contains(got["error"], tc.says) {
			t.Errorf("%s: %d %v, want %d naming %q and saying %q", tc.name, a.status, got, tc.status, tc.field, tc.says)
		}
	}
	// Another workspace's chat is 404 to the form too, with nothing of it shown.
	if a := v.post(page(theirs), url.Values{"text": {"hello"}}); a.status != http.StatusNotFound || strings.Contains(a.body, "Their contact") {
		t.Errorf("the form to another workspace's chat: %d", a.status)
	}
	if a := v.post(page(apiChat), url.Values{"text": {"hello there"}}); a.status != http.StatusConflict ||
		!strings.Contains(a.body, "not connected to chathook") || !strings.Contains(a.body, ">\nhello there</textarea>") {
		t.Errorf("the form to the ingest API's chat: %d\n%s", a.status, a.body)
	}

	a := v.post(page(ours), url.Values{"text": {"hello"}, "csrf": {"forged"}}, "Accept", "application/json")
	if a.status != http.StatusForbidden {
		t.Errorf("a forged CSRF token: %d", a.status)
	}
	if a := v.post(page(ours), url.Values{"text": {"hello"}, "csrf": {""}}); a.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", a.status)
	}
	if after := count(); after != before {
		t.Errorf("refused replies added %d messages", after-before)
	}

	// A reply's state is read in its own chat and workspace only.
	_, got := v.postJSON(page(ours), url.Values{"text": {"mine"}})
	for _, path := range []string{
		fmt.Sprintf("/chat/%d/messages/%s/state", apiChat, got["message_id"]),
		fmt.Sprintf("/chat/%d/messages/%s/state", theirs, got["message_id"]),
		fmt.Sprintf("/chat/%d/messages/00000000-0000-0000-0000-000000000000/state", ours),
		fmt.Sprintf("/chat/%d/messages/not-a-uuid/state", ours),
	} {
		if a := v.get(path); a.status != http.StatusNotFound || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %q, want a JSON 404", path, a.status, a.header.Get("Content-Type"))
		}
	}
	if status, _ := v.state(ours, got["message_id"]); status != http.StatusOK {
		t.Errorf("our own reply's state: %d", status)
	}
	if status, _ := h.visitor().state(ours, got["message_id"]); status != http.StatusUnauthorized {
		t.Errorf("a reply's state signed out: %d, want 401", status)
	}
	if a := h.visitor().post(page(ours), url.Values{"text": {"hello"}}); a.status != http.StatusSeeOther ||
		!strings.HasPrefix(a.header.Get("Location"), "/signin") {
		t.Errorf("a reply signed out: %d to %q", a.status, a.header.Get("Location"))
	}
}
