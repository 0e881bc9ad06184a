package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/google/uuid"
)

// line is one message for the chat list tests: chat name, account phone,
// direction, text and minutes after 1 March 2026 09:00 UTC.
type line struct {
	chat, account string
	dir           chathook.Direction
	text          string
	minute        int
}

// store ingests lines in one batch and returns each one's message.
func (h *harness) store(ws string, lines ...line) []chathook.Message {
	h.t.Helper()
	var in []chathook.Incoming
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, l := range lines {
		account := l.account
		if account == "" {
			account = "+15550000000"
		}
		dir := l.dir
		if dir == "" {
			dir = chathook.Received
		}
		in = append(in, chathook.Incoming{
			Account:   chathook.Account{Phone: account}, // a name already set stays
			Chat:      chathook.Chat{ExternalID: chatPhone(l.chat), Phone: chatPhone(l.chat), FullName: l.chat},
			MessageID: uuid.NewString(), UUID: uuid.NewString(), Direction: dir,
			Timestamp: t0.Add(time.Duration(l.minute) * time.Minute), Text: l.text,
		})
	}
	res, err := h.st.Ingest(context.Background(), ws, h.clock(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]chathook.Message, len(res))
	for i := range res {
		m, err := h.st.MessageByUUID(context.Background(), ws, in[i].UUID)
		if err != nil {
			h.t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

// accountOf is the id of the account of chat.
func (h *harness) accountOf(ws string, chat int64) int64 {
	h.t.Helper()
	c, err := h.st.Chat(context.Background(), ws, chat)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.AccountID
}

var rowName = regexp.MustCompile(`<span class="chat-name"><bdi dir="auto">([^<]*)</bdi>`)

// rows are the chat names of a chat list page, in order.
func rows(body string) []string {
	var out []string
	for _, m := range rowName.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// pageLink is the address of a pager link, or "".
func pageLink(body, id string) string {
	m := regexp.MustCompile(`href="([^"]+)" id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func (v *visitor) list(path string) answer {
	v.t.Helper()
	a := v.get(path)
	if a.status != http.StatusOK {
		v.t.Fatalf("%s: %d\n%s", path, a.status, a.body)
	}
	return a
}

// The list is newest activity first: a chat that gets a message moves to
// the top, whatever its age.
func TestChatListByActivity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	h.store(h.ws.WorkspaceID, line{chat: "Oldest", minute: 1}, line{chat: "Middle", minute: 2}, line{chat: "Newest", minute: 3})
	v := h.signedIn("acme")
	if got := rows(v.list("/chats/").body); !slices.Equal(got, []string{"Newest", "Middle", "Oldest"}) {
		t.Fatalf("first order %v", got)
	}
	h.store(h.ws.WorkspaceID, line{chat: "Oldest", text: "back again", minute: 10})
	a := v.list("/chats/")
	if got := rows(a.body); !slices.Equal(got, []string{"Oldest", "Newest", "Middle"}) {
		t.Errorf("after a new message in Oldest: %v", got)
	}
	if !strings.Contains(a.body, `<time datetime="2026-03-01T09:10:00Z" class="relative">1 Mar 2026, 09:10 UTC</time>`) {
		t.Errorf("the newest row's time is not a <time>:\n%s", a.body)
	}
	if !strings.Contains(a.body, `id="chat-list"`) {
		t.Error("no #chat-list")
	}
	if !strings.Contains(a.body, `<noscript><meta http-equiv="refresh" content="30"></noscript>`) {
		t.Error("without script the list never reloads")
	}
}

// 120 chats are three pages: Older and Newer links walk them both ways
// without a gap or a repeat, and keep the search and the account filter.
func TestChatListPagesBothWays(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	var lines []line
	var want []string // newest first
	for i := range 120 {
		name := fmt.Sprintf("Client %03d", i)
		lines = append(lines, line{chat: name, minute: i})
		want = append([]string{name}, want...)
		// Another account's clients and chats that do not match the
		// search are left out of every page.
		lines = append(lines, line{chat: fmt.Sprintf("Client %03d elsewhere", i), account: "+15550000009", minute: i},
			line{chat: fmt.Sprintf("Supplier %03d", i), minute: i})
	}
	msgs := h.store(h.ws.WorkspaceID, lines...)
	ours := h.accountOf(h.ws.WorkspaceID, msgs[0].ChatID)
	v := h.signedIn("acme")

	path := fmt.Sprintf("/chats/?q=client&account=%d", ours)
	var pages [][]string
	for path != "" {
		if len(pages) > 5 {
			t.Fatalf("more than 5 pages: %v", pages)
		}
		a := v.list(path)
		pages = append(pages, rows(a.body))
		next := pageLink(a.body, "older-chats")
		if next != "" {
			u, _ := url.Parse(next)
			if u.Query().Get("q") != "client" || u.Query().Get("account") != strconv.FormatInt(ours, 10) {
				t.Fatalf("the Older link %q drops the search or the account", next)
			}
		}
		if len(pages) == 1 && pageLink(a.body, "newer-chats") != "" {
			t.Error("the first page has a Newer link")
		}
		path = next
	}
	if got := slices.Concat(pages...); !slices.Equal(got, want) {
		t.Fatalf("walking Older: %d pages, %d rows\n%v", len(pages), len(got), got)
	}
	if len(pages) != 3 || len(pages[0]) != 50 || len(pages[2]) != 20 {
		t.Errorf("page sizes %d, %d…", len(pages), len(pages[0]))
	}

	// From the last page back to the first through Newer.
	a := v.list(fmt.Sprintf("/chats/?q=client&account=%d", ours))
	last := v.list(pageLink(v.list(pageLink(a.body, "older-chats")).body, "older-chats"))
	if pageLink(last.body, "older-chats") != "" {
		t.Error("the last page has an Older link")
	}
	var back [][]string
	for p := last; len(back) <= 5; {
		back = append([][]string{rows(p.body)}, back...)
		newer := pageLink(p.body, "newer-chats")
		if newer == "" {
			break
		}
		u, _ := url.Parse(newer)
		if u.Query().Get("q") != "client" || u.Query().Get("account") != strconv.FormatInt(ours, 10) {
			t.Fatalf("the Newer link %q drops the search or the account", newer)
		}
		p = v.list(newer)
	}
	if !slices.Equal(slices.Concat(back...), want) || len(back[0]) != 50 {
		t.Errorf("walking Newer: %v", back)
	}
}

// A broken page address is a 400 page that names what is wrong, never a
// 500; so is an account that is not the workspace's.
func TestChatListBadAddresses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	h.store(h.ws.WorkspaceID, line{chat: "Ours"})
	beta := h.workspace("beta")
	theirs := h.accountOf(beta.WorkspaceID, h.store(beta.WorkspaceID, line{chat: "Theirs", account: "+15550000077"})[0].ChatID)
	v := h.signedIn("acme")
	for path, names := range map[string]string{
		"/chats/?before=abc":                      "?before=",
		"/chats/?before=":                         "?before=",
		"/chats/?after=12.0":                      "?after=",
		"/chats/?after=1.2.3":                     "?after=",
		"/chats/?before=1.2&after=1.3":            "?after=",
		"/chats/?account=abc":                     "?account=",
		"/chats/?account=-4":                      "?account=",
		"/chats/?account=99999999":                "?account=",
		fmt.Sprintf("/chats/?account=%d", theirs): "?account=",
		"/chats/?q=" + strings.Repeat("x", 201):   "(q)",
	} {
		a := v.get(path)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, names) {
			t.Errorf("%s: %d, want 400 naming %s\n%s", path, a.status, names, a.body)
		}
		if strings.Contains(a.body, "Theirs") {
			t.Errorf("%s shows another workspace's chat", path)
		}
	}
}

// A row shows its message's preview, "You: " before a sent one, the
// unread count for the signed-in user, and every name and text escaped.
func TestChatListRows(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	h.store(ws, line{chat: "Replied", text: "can you help?", minute: 1},
		line{chat: "Replied", dir: chathook.Sent, text: "Sure, on it", minute: 2},
		line{chat: "Waiting", text: "one", minute: 3}, line{chat: "Waiting", text: "two", minute: 4},
		line{chat: `Mallory <img src=x onerror=alert(1)>`, text: `<script>alert(2)</script>`, minute: 5},
		line{chat: "דנה כהן", text: "בטח, זה יעלה 120 ₪. OK?", minute: 6})
	var flood []line
	for i := range 150 {
		flood = append(flood, line{chat: "Flood", text: fmt.Sprintf("flood %d", i), minute: 10 + i})
	}
	fl := h.store(ws, flood...)
	v := h.signedIn("acme")
	a := v.list("/chats/")
	row := func(name string) string {
		i := strings.Index(a.body, `<bdi dir="auto">`+name+`</bdi>`)
		if i < 0 {
			t.Fatalf("no row for %q:\n%s", name, a.body)
		}
		start := strings.LastIndex(a.body[:i], "<li")
		end := strings.Index(a.body[i:], "</li>")
		return a.body[start : i+end]
	}
	if r := row("Replied"); !strings.Contains(r, `<span class="you">You: </span><span class="preview" dir="auto">Sure, on it</span>`) {
		t.Errorf("a sent last message lacks You: %s", r)
	}
	if r := row("Waiting"); strings.Contains(r, "You: ") || !strings.Contains(r, `<span class="preview" dir="auto">two</span>`) {
		t.Errorf("a received last message: %s", r)
	}
	if r := row("Waiting"); !strings.Contains(r, `class="chat-row unread"`) || !strings.Contains(r, `<span class="unread-badge" aria-label="2 unread">2</span>`) {
		t.Errorf("two unread: %s", r)
	}
	if r := row("Replied"); !strings.Contains(r, `aria-label="1 unread">1<`) {
		t.Errorf("one received before the reply, never opened: %s", r)
	}
	if r := row("Flood"); !strings.Contains(r, `<span class="unread-badge" aria-label="more than 99 unread">99&#43;</span>`) {
		t.Errorf("150 unread: %s", r)
	}
	if r := row("דנה כהן"); !strings.Contains(r, `<span class="preview" dir="auto">בטח, זה יעלה 120 ₪. OK?</span>`) {
		t.Errorf("the Hebrew row: %s", r)
	}
	for _, raw := range []string{"<img src=x", "<script>alert(2)"} {
		if strings.Contains(a.body, raw) {
			t.Errorf("the list holds %q unescaped", raw)
		}
	}
	if !strings.Contains(a.body, "Mallory &lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(a.body, "&lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Error("the name or the preview is not shown escaped")
	}
	// One account: rows do not name it.
	if strings.Contains(a.body, `class="chat-account"`) || strings.Contains(a.body, `id="chat-account"`) {
		t.Error("a workspace of one account shows the account")
	}

	// Read up to the end: the badge goes, for this user only.
	owner, _, err := h.st.UserByEmail(context.Background(), "owner@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.MarkRead(context.Background(), ws, owner.ID, fl[0].ChatID, fl[len(fl)-1].ID); err != nil {
		t.Fatal(err)
	}
	a = v.list("/chats/")
	if r := row("Flood"); strings.Contains(r, "unread") {
		t.Errorf("read to the end, still: %s", r)
	}
	if r := row("Waiting"); !strings.Contains(r, `aria-label="2 unread"`) {
		t.Errorf("another chat's count changed: %s", r)
	}
	// A new message counts again.
	h.store(ws, line{chat: "Waiting", text: "three", minute: 500})
	if !strings.Contains(v.list("/chats/").body, `aria-label="3 unread">3<`) {
		t.Error("a new message does not count")
	}
}

// Search finds chats by name, phone and message text; a chat found by a
// message shows that message and leads to it; no match says so, escaped.
func TestChatListSearch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	msgs := h.store(ws, line{chat: "Anna Invoice", text: "hello", minute: 1},
		line{chat: "Bob Builder", text: "the invoice is attached", minute: 2},
		line{chat: "Bob Builder", text: "any news?", minute: 3},
		line{chat: "Carol", text: "nothing here", minute: 4})
	v := h.signedIn("acme")
	a := v.list("/chats/?q=invoice")
	if got := rows(a.body); !slices.Equal(got, []string{"Bob Builder", "Anna Invoice"}) {
		t.Fatalf("q=invoice: %v", got)
	}
	if !strings.Contains(a.body, `<a href="/permalink/`+msgs[1].UUID+`/">`) || !strings.Contains(a.body, `dir="auto">the invoice is attached</span>`) {
		t.Errorf("Bob's row does not show and link the matching message:\n%s", a.body)
	}
	if !strings.Contains(a.body, fmt.Sprintf(`<a href="/chat/%d/messages/">`, msgs[0].ChatID)) {
		t.Error("Anna, found by her name, does not link to her chat")
	}
	if !strings.Contains(a.body, `name="q" value="invoice"`) {
		t.Error("the search box does not keep the query")
	}
	if got := rows(v.list("/chats/?q=" + url.QueryEscape(chatPhone("Carol")[5:])).body); !slices.Equal(got, []string{"Carol"}) {
		t.Errorf("by phone: %v", got)
	}
	a = v.list("/chats/?q=" + url.QueryEscape(`<b>nobody</b>`))
	if len(rows(a.body)) != 0 || !strings.Contains(a.body, "No chats match “&lt;b&gt;nobody&lt;/b&gt;”") {
		t.Errorf("no match:\n%s", a.body)
	}
}

// With two accounts each row names its account and the filter lists
// them; the filter keeps one account's chats.
func TestChatListAccountFilter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	ws := h.ws.WorkspaceID
	ctx := context.Background()
	var ids []int64
	for i, phone := range []string{"+15550000101", "+15550000102"} {
		acc, err := h.st.AddCloudAPINumber(ctx, ws, chathook.Account{Phone: phone, PhoneNumberID: fmt.Sprintf("10600000000010%d", i), FullName: fmt.Sprintf("Desk %d", i+1), VerifyToken: "verify-" + phone},
			"secret", "", h.clock())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	h.store(ws, line{chat: "Via desk one", account: "+15550000101", minute: 1}, line{chat: "Via desk two", account: "+15550000102", minute: 2})
	v := h.signedIn("acme")
	a := v.list("/chats/")
	for _, want := range []string{`<option value="">All accounts</option>`, fmt.Sprintf(`<option value="%d">Desk 1 (&#43;15550000101)</option>`, ids[0]),
		`<span class="chat-account">via <bdi>&#43;15550000102</bdi></span>`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the list lacks %s:\n%s", want, a.body)
		}
	}
	a = v.list(fmt.Sprintf("/chats/?account=%d", ids[1]))
	if got := rows(a.body); !slices.Equal(got, []string{"Via desk two"}) {
		t.Errorf("desk two's chats: %v", got)
	}
	if !strings.Contains(a.body, fmt.Sprintf(`<option value="%d" selected>`, ids[1])) {
		t.Error("the filter does not show its choice")
	}
}

// A page past either end of the list is empty and leads back to the
// newest chats; a filter on an account the ingest API made is kept by
// the search box, though it is not among the filter's choices.
func TestChatListEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	msgs := h.store(h.ws.WorkspaceID, line{chat: "Only one", text: "hi", minute: 1})
	account := h.accountOf(h.ws.WorkspaceID, msgs[0].ChatID)
	v := h.signedIn("acme")
	for _, path := range []string{
		fmt.Sprintf("/chats/?q=one&account=%d&before=1.1", account),
		fmt.Sprintf("/chats/?q=one&account=%d&after=%d.1", account, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()),
	} {
		a := v.list(path)
		if len(rows(a.body)) != 0 || !strings.Contains(a.body, "No more chats here.") {
			t.Errorf("%s: %v", path, rows(a.body))
		}
		if got, want := pageLink(a.body, "newest-chats"), fmt.Sprintf("/chats/?account=%d&q=one", account); got != want {
			t.Errorf("%s: the way back is %q, want %q", path, got, want)
		}
	}
	a := v.list(fmt.Sprintf("/chats/?account=%d", account))
	if !strings.Contains(a.body, fmt.Sprintf(`<input type="hidden" name="account" value="%d">`, account)) || strings.Contains(a.body, `id="chat-account"`) {
		t.Errorf("the search box does not keep the account:\n%s", a.body)
	}
	if got := rows(a.body); !slices.Equal(got, []string{"Only one"}) {
		t.Errorf("the account's chats: %v", got)
	}
}
