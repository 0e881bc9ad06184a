package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chathook/chathook/store"
)

// A visitor without a session is sent to sign-in, and no page shows
// message text to it; a fragment answers 401.
func TestSignedOutVisitorsSeeNoMessageText(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	chat := h.ingest(h.ws.WorkspaceID, "John Doe", "the secret plan")
	msgs, _ := h.st.Messages(context.Background(), h.ws.WorkspaceID, chat, store.Page{Limit: 1})
	v := h.visitor()
	for _, path := range []string{
		fmt.Sprintf("/chat/%d/messages/", chat), "/permalink/" + msgs[0].UUID + "/", "/chats/",
		"/settings/webhooks/outbound", "/settings/webhooks/outbound/log",
	} {
		a := v.get(path)
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/signin?next=") {
			t.Errorf("%s: %d to %q, want a redirect to sign-in", path, a.status, a.header.Get("Location"))
		}
		if strings.Contains(a.body, "secret plan") || strings.Contains(a.body, "John Doe") {
			t.Errorf("%s shows the chat to a signed-out visitor", path)
		}
	}
	if a := v.get("/settings/webhooks/outbound/activity"); a.status != http.StatusUnauthorized {
		t.Errorf("the activity fragment signed out: %d, want 401", a.status)
	}
	// After signing in, the permalink asked for is where the visitor lands.
	v.get("/signin?next=" + "%2Fpermalink%2F" + msgs[0].UUID + "%2F")
	a := v.post("/signin", map[string][]string{"email": {"owner@acme.example"}, "password": {password}, "next": {"/permalink/" + msgs[0].UUID + "/"}})
	if a.header.Get("Location") != "/permalink/"+msgs[0].UUID+"/" {
		t.Errorf("after sign-in: to %q", a.header.Get("Location"))
	}
}

// Another workspace's chat and permalink are 404, exactly like ones that
// do not exist; so is a permalink of another chat opened in this one.
func TestOtherWorkspacesChatsAreNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	beta := h.workspace("beta")
	theirs := h.ingest(beta.WorkspaceID, "Their contact", "their words")
	theirMsgs, _ := h.st.Messages(context.Background(), beta.WorkspaceID, theirs, store.Page{Limit: 1})
	ours := h.ingest(h.ws.WorkspaceID, "Our contact", "our words")
	ourOther := h.ingest(h.ws.WorkspaceID, "Our other contact", "other words")
	otherMsgs, _ := h.st.Messages(context.Background(), h.ws.WorkspaceID, ourOther, store.Page{Limit: 1})
	v := h.signedIn("acme")
	for _, path := range []string{
		fmt.Sprintf("/chat/%d/messages/", theirs),
		"/permalink/" + theirMsgs[0].UUID + "/",
		fmt.Sprintf("/chat/%d/messages/?at=%s", ours, theirMsgs[0].UUID),
		fmt.Sprintf("/chat/%d/messages/?at=%s", ours, otherMsgs[0].UUID),
		"/chat/99999999/messages/", "/chat/abc/messages/", "/chat/-1/messages/",
		"/permalink/not-a-uuid/", "/permalink/00000000-0000-0000-0000-000000000000/", "/no/such/page",
	} {
		a := v.get(path)
		if a.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, a.status)
		}
		if strings.Contains(a.body, "their words") || strings.Contains(a.body, "Their contact") {
			t.Errorf("%s shows another workspace's chat", path)
		}
	}
	if a := v.get(fmt.Sprintf("/chat/%d/messages/", ours)); a.status != http.StatusOK || !strings.Contains(a.body, "our words") {
		t.Errorf("our own chat: %d", a.status)
	}
	if a := v.get("/chats/"); strings.Contains(a.body, "Their contact") || !strings.Contains(a.body, "Our contact") {
		t.Errorf("the chat list crosses workspaces:\n%s", a.body)
	}
}

// Message text and names are escaped: markup in a message stays text.
func TestMessageTextIsEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	evil := []string{`<script>alert(1)</script>`, `'><img src=x onerror=alert(1)>`, "line one\nline <b>two</b>"}
	chat := h.ingest(h.ws.WorkspaceID, `Mallory <img src=x onerror=alert(2)>`, evil...)
	v := h.signedIn("acme")
	for _, path := range []string{fmt.Sprintf("/chat/%d/messages/", chat), "/chats/"} {
		a := v.get(path)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d", path, a.status)
		}
		for _, raw := range append(evil, "<img src=x", "<b>two") {
			if strings.Contains(a.body, raw) {
				t.Errorf("%s holds %q unescaped", path, raw)
			}
		}
		if !strings.Contains(a.body, "Mallory &lt;img src=x onerror=alert(2)&gt;") {
			t.Errorf("%s: the chat name is not shown escaped", path)
		}
	}
	a := v.get(fmt.Sprintf("/chat/%d/messages/", chat))
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#39;&gt;&lt;img src=x onerror=alert(1)&gt;", "line one\nline &lt;b&gt;two&lt;/b&gt;"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the chat page lacks %q", want)
		}
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

var shown = regexp.MustCompile(`<p class="text" dir="auto">message (\d+)</p>`)

func numbers(body string) []string {
	var out []string
	for _, m := range shown.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func href(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`href="([^"]+)" id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// A long chat is shown 50 messages a page, newest last; older and newer
// pages follow each other without a gap or a repeat; a permalink opens
// the page around its message, highlighted.
func TestChatPagesAndPermalink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	var texts []string
	for i := range 120 {
		texts = append(texts, fmt.Sprintf("message %d", i))
	}
	chat := h.ingest(h.ws.WorkspaceID, "Long chat", texts...)
	v := h.signedIn("acme")
	base := fmt.Sprintf("/chat/%d/messages/", chat)

	a := v.get(base)
	got := numbers(a.body)
	if len(got) != 50 || got[0] != "70" || got[49] != "119" || href(t, a.body, "newer") != "" {
		t.Fatalf("latest page: %v, newer %q", got, href(t, a.body, "newer"))
	}
	var seen []string
	seen = append(got, seen...)
	older := href(t, a.body, "older")
	for older != "" {
		a = v.get(older)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d", older, a.status)
		}
		seen = append(numbers(a.body), seen...)
		older = href(t, a.body, "older")
	}
	if len(seen) != 120 || seen[0] != "0" || seen[119] != "119" {
		t.Fatalf("paging back saw %d messages: %v", len(seen), seen)
	}
	if got := numbers(a.body); len(got) != 20 || href(t, a.body, "newer") == "" {
		t.Fatalf("oldest page: %v", got)
	}
	a = v.get(href(t, a.body, "newer"))
	if got := numbers(a.body); len(got) != 50 || got[0] != "20" || got[49] != "69" || href(t, a.body, "older") == "" {
		t.Fatalf("newer after the oldest: %v", got)
	}

	all, _ := h.st.Messages(context.Background(), h.ws.WorkspaceID, chat, store.Page{Limit: 200})
	target := all[5]
	a = v.get("/permalink/" + target.UUID + "/")
	want := base + "?at=" + target.UUID + "#m-" + target.UUID
	if a.status != http.StatusSeeOther || a.header.Get("Location") != want {
		t.Fatalf("permalink: %d to %q, want %q", a.status, a.header.Get("Location"), want)
	}
	a = v.get(strings.Split(want, "#")[0])
	got = numbers(a.body)
	if len(got) != 50 || got[0] != "0" || got[5] != "5" || href(t, a.body, "older") != "" || href(t, a.body, "newer") == "" {
		t.Fatalf("around message 5: %v", got)
	}
	if !strings.Contains(a.body, `class="msg received highlight" id="m-`+target.UUID+`"`) {
		t.Errorf("message 5 is not highlighted")
	}
	a = v.get(base + "?at=" + all[100].UUID)
	if got := numbers(a.body); got[0] != "90" || got[10] != "100" || got[len(got)-1] != "119" {
		t.Errorf("around message 100: %v", got)
	}

	for _, bad := range []string{"?before=x", "?before=1.", "?after=.5", "?before=12.-3"} {
		if a := v.get(base + bad); a.status != http.StatusBadRequest || !strings.Contains(a.body, "broken") {
			t.Errorf("%s: %d", bad, a.status)
		}
	}
	if a := v.get("/chats/?before=abc"); a.status != http.StatusBadRequest {
		t.Errorf("chats?before=abc: %d", a.status)
	}
}
