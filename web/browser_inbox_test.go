package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chromedp/chromedp"
)

// waitListed waits until the list shows exactly names, in order.
func waitListed(t *testing.T, ctx context.Context, what string, names ...string) {
	t.Helper()
	waitThrough(t, ctx, what, fmt.Sprintf(
		`Array.from(document.querySelectorAll('#chat-list .chat-name bdi')).map(e => e.textContent).join('|') === %q`, strings.Join(names, "|")))
}

// waitThrough is waitFor across page loads (a sign-in, a search sent):
// it polls js on whichever page has finished loading.
func waitThrough(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === 'complete' && (`+js+`)`))
		if err == nil && ok {
			return
		}
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	t.Fatalf("waiting for %s\npage:\n%s", what, page)
}

// search types q into the search box and sends it.
func search(t *testing.T, ctx context.Context, q string) {
	t.Helper()
	do(t, ctx, "search "+q, clear("chat-search"), chromedp.SendKeys(chromedp.ID("chat-search"), q), chromedp.Click(chromedp.ID("chat-search-go")))
}

// The list follows the latest message; search finds a chat by its name
// and by a message's text, and leads to that message; on a phone a row
// keeps its name and time on one line, and nothing is cut off.
func TestBrowserInboxOrderAndSearch(t *testing.T) {
	svc, ws := service(t)
	ws.Post(t,
		apiMessage("+15551000001", "John Doe", "c1", "received", "Hi! I ordered the blue backpack on Monday. Any news?", 0),
		apiMessage("+15551000001", "John Doe", "c2", "sent", "It left our warehouse this morning; the tracking number is AC-20418.", 6),
		apiMessage("+15551000002", "Jane Roe", "j1", "received", "Do you ship to Canada?", 20),
		apiMessage("+15551000002", "Jane Roe", "j2", "received", "And how long does it take?", 21),
		apiMessage("+972500000123", "דנה כהן", "d1", "received", "בטח, זה יעלה 120 ₪. OK?", 30),
		apiMessage("+15551000004", "Acme Wholesale Ltd — purchasing department", "a1", "received", "Please send the invoice for order 5512 to accounts@acme.example, thanks", 35),
	)
	ctx := tab(t)
	do(t, ctx, "open the chat list", chromedp.Navigate(svc.URL+"/chats/"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	waitListed(t, ctx, "the chats by their latest message", "Acme Wholesale Ltd — purchasing department", "דנה כהן", "Jane Roe", "John Doe")
	// The owner has read Acme's and John's chats: their rows are plain,
	// the others bold with a badge.
	owner, _, err := svc.Store.UserByEmail(context.Background(), "owner@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	chats, err := svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chats {
		if c.FullName == "John Doe" || strings.HasPrefix(c.FullName, "Acme") {
			if err := svc.Store.MarkRead(context.Background(), ws.WorkspaceID, owner.ID, c.ID, c.Last.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(t, ctx, "reload", chromedp.Reload())
	waitThrough(t, ctx, "two unread rows", `document.querySelectorAll('#chat-list .unread-badge').length === 2`)
	if got := run(t, ctx, "read the rows' weights", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#chat-list li')).map(li =>
		getComputedStyle(li.querySelector('.chat-name')).fontWeight + ':' + (li.querySelector('.unread-badge') || {}).textContent).join(' ')`)); got != "600:undefined 700:1 700:2 600:undefined" {
		t.Errorf("rows' name weights and badges: %s", got)
	}
	screenshot(t, ctx, "chats", 1280, 900, false)

	// On a phone: name and time share a line, the preview is below, and
	// nothing is wider than the screen.
	do(t, ctx, "turn into a phone", chromedp.EmulateViewport(390, 844))
	if bad := run(t, ctx, "measure the rows", chromedp.Evaluate[string](`(() => {
		if (document.documentElement.scrollWidth > 390) return 'the page is ' + document.documentElement.scrollWidth + ' px wide';
		for (const li of document.querySelectorAll('#chat-list li')) {
			const row = li.getBoundingClientRect(), name = li.querySelector('.chat-name').getBoundingClientRect(),
				time = li.querySelector('time').getBoundingClientRect(), last = li.querySelector('.chat-last').getBoundingClientRect();
			if (time.width === 0 || time.right > row.right || name.right > time.left) return li.innerText + ': the time is hidden or overlaps';
			if (Math.abs(time.top - name.top) > name.height / 2) return li.innerText + ': name and time on two lines';
			if (last.top < name.bottom - 1) return li.innerText + ': the preview is not below the name';
		}
		return '';
	})()`)); bad != "" {
		t.Errorf("on a phone: %s", bad)
	}
	screenshot(t, ctx, "chats-phone", 390, 844, false)
	do(t, ctx, "back to a desktop", chromedp.EmulateViewport(1280, 800))

	// A new message moves its chat to the top, with its text.
	ws.Post(t, apiMessage("+15551000001", "John Doe", "c3", "received", "Got it, thank you!", 40))
	do(t, ctx, "reload", chromedp.Reload())
	waitListed(t, ctx, "John on top after his new message", "John Doe", "Acme Wholesale Ltd — purchasing department", "דנה כהן", "Jane Roe")
	if got := text(t, ctx, "#chat-list li:first-child .chat-last"); got != "Got it, thank you!" {
		t.Errorf("John's row previews %q", got)
	}

	search(t, ctx, "jane")
	waitListed(t, ctx, "Jane found by her name", "Jane Roe")
	if got := run(t, ctx, "read the search box", chromedp.Evaluate[string](`document.getElementById('chat-search').value`)); got != "jane" {
		t.Errorf("the search box holds %q", got)
	}
	search(t, ctx, "warehouse")
	waitListed(t, ctx, "John found by a message", "John Doe")
	if got := text(t, ctx, "#chat-list .chat-last"); got != "You: It left our warehouse this morning; the tracking number is AC-20418." {
		t.Errorf("the found row previews %q", got)
	}
	do(t, ctx, "open the found message", chromedp.Click(chromedp.CSS("#chat-list li a")), chromedp.WaitVisible(chromedp.CSS(".msg.highlight")))
	if got := text(t, ctx, ".msg.highlight .text"); !strings.Contains(got, "warehouse") {
		t.Errorf("the highlighted message is %q", got)
	}
	do(t, ctx, "back to the list", chromedp.Navigate(svc.URL+"/chats/"))
	search(t, ctx, "nobody")
	waitThrough(t, ctx, "no match", `!!document.querySelector('#chat-list .empty') && document.querySelector('#chat-list .empty').textContent.includes('No chats match “nobody”')`)
}

// With two numbers the filter lists both, and choosing one shows only its
// chats, each row naming the account.
func TestBrowserInboxAccountFilter(t *testing.T) {
	svc, ws := service(t)
	bg := context.Background()
	var numbers []chathook.Account
	for i, phone := range []string{"+15550000101", "+15550000102"} {
		a, err := svc.Store.AddCloudAPINumber(bg, ws.WorkspaceID, chathook.Account{Phone: phone, PhoneNumberID: fmt.Sprintf("10600000000010%d", i),
			FullName: fmt.Sprintf("Desk %d", i+1), VerifyToken: "verify-" + phone}, "secret", "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, a)
	}
	message := func(account, chat, name, id string, minutes int) string {
		return strings.Replace(apiMessage(chat, name, id, "received", "hello from "+name, minutes), `"+15550000000"`, fmt.Sprintf("%q", account), 1)
	}
	ws.Post(t, message("+15550000101", "+15551000001", "Sales lead", "s1", 1), message("+15550000102", "+15551000002", "Support case", "s2", 2),
		message("+15550000101", "+15551000003", "Another lead", "s3", 3))
	ctx := tab(t)
	do(t, ctx, "open the chat list", chromedp.Navigate(svc.URL+"/chats/"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	waitListed(t, ctx, "every account's chats", "Another lead", "Support case", "Sales lead")
	if got := text(t, ctx, "#chat-list li:nth-child(2) .chat-account"); got != "via +15550000102" {
		t.Errorf("the support row names %q", got)
	}
	do(t, ctx, "choose desk 2", chromedp.SetValue(chromedp.ID("chat-account"), fmt.Sprint(numbers[1].ID)), chromedp.Click(chromedp.ID("chat-search-go")))
	waitListed(t, ctx, "desk 2's chats", "Support case")
	do(t, ctx, "choose desk 1", chromedp.SetValue(chromedp.ID("chat-account"), fmt.Sprint(numbers[0].ID)), chromedp.Click(chromedp.ID("chat-search-go")))
	waitListed(t, ctx, "desk 1's chats", "Another lead", "Sales lead")
	search(t, ctx, "sales")
	waitListed(t, ctx, "a search within desk 1", "Sales lead")
}
