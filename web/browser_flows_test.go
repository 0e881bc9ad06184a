package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/store"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Sign in (after a wrong password), change granularity and URL, see a
// validation error beside the URL field, switch the webhook off and on,
// sign out.
func TestBrowserSignInAndSettings(t *testing.T) {
	svc, ws := service(t)
	ctx := tab(t)
	sink := chathooktest.NewSink(t)

	do(t, ctx, "open the settings signed out", chromedp.Navigate(svc.URL+"/settings/webhooks/outbound"))
	if loc := location(t, ctx); !strings.Contains(loc, "/signin?next=%2Fsettings%2Fwebhooks%2Foutbound") {
		t.Fatalf("signed out, the settings page led to %s", loc)
	}
	do(t, ctx, "see the form", chromedp.WaitVisible(chromedp.ID("sign-in")))
	screenshot(t, ctx, "signin", 1280, 720, false)
	signIn(t, ctx, svc.URL, "owner@acme.example", "not my password")
	if got := text(t, ctx, "#signin-error"); got != "Wrong email or password." {
		t.Errorf("wrong password says %q", got)
	}
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "land on the settings", chromedp.WaitVisible(chromedp.ID("settings-form")))
	if got := text(t, ctx, "#user-email"); got != "owner@acme.example" {
		t.Errorf("signed in as %q", got)
	}

	do(t, ctx, "change granularity and URL",
		chromedp.SetValue(chromedp.ID("granularity"), "6h"),
		clear("url"),
		chromedp.SendKeys(chromedp.ID("url"), sink.URL+"/hook"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("saved")),
	)
	if g := run(t, ctx, "granularity", chromedp.Value(chromedp.ID("granularity"))); g != "6h" {
		t.Errorf("granularity shown after saving: %q", g)
	}
	wh, _ := svc.Store.Webhook(context.Background(), ws.WorkspaceID, chathook.Outbound)
	if wh.URL != sink.URL+"/hook" || wh.Granularity != chathook.SixHourly || !wh.Enabled {
		t.Fatalf("saved %+v", wh)
	}

	do(t, ctx, "type a bad URL",
		clear("url"),
		chromedp.SendKeys(chromedp.ID("url"), "hooks.example.com/no-scheme"),
		chromedp.SetValue(chromedp.ID("granularity"), "24h"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("url-error")),
	)
	if got := text(t, ctx, "#url-error"); !strings.Contains(got, "must start with http://, https://") {
		t.Errorf("the URL error says %q", got)
	}
	waitFor(t, ctx, "the error right below the URL field, which keeps what was typed",
		`document.getElementById('url').nextElementSibling.id === 'url-error' &&
		 document.getElementById('url').value === 'hooks.example.com/no-scheme' &&
		 document.getElementById('url').getAttribute('aria-invalid') === 'true'`)
	if after, _ := svc.Store.Webhook(context.Background(), ws.WorkspaceID, chathook.Outbound); after.URL != wh.URL || after.Granularity != wh.Granularity {
		t.Fatalf("an invalid form saved something: %+v", after)
	}

	do(t, ctx, "switch the webhook off",
		clear("url"),
		chromedp.SendKeys(chromedp.ID("url"), sink.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`label[for="enabled"]`)),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("off-banner")),
	)
	if wh, _ := svc.Store.Webhook(context.Background(), ws.WorkspaceID, chathook.Outbound); wh.Enabled || wh.Granularity != chathook.Daily {
		t.Errorf("after switching off: %+v", wh)
	}
	do(t, ctx, "switch it on again",
		chromedp.Click(chromedp.CSS(`label[for="enabled"]`)),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("saved")),
		chromedp.WaitNotPresent(chromedp.ID("off-banner")),
	)

	do(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("sign-in")))
	do(t, ctx, "open the settings again", chromedp.Navigate(svc.URL+"/settings/webhooks/outbound"), chromedp.WaitVisible(chromedp.ID("sign-in")))
}

// A receiver that fails 10 times disables the webhook: the page shows
// the banner; the detailed log downloads; enabling again with "discard"
// discards what waited, and the activity log shows it by itself.
func TestBrowserDisabledBannerLogAndDiscard(t *testing.T) {
	svc, ws := service(t)
	sink := chathooktest.NewSink(t)
	sink.Respond = func(int, *http.Request) int { return http.StatusServiceUnavailable }
	ws.PointAt(t, sink.URL+"/hook")
	ws.Post(t, apiMessage("+15551000001", "John Doe", "m1", "received", "Is my order on its way?", 0),
		apiMessage("+15551000002", "Jane Roe", "m2", "received", "Hello!", 1))
	deadline := time.Now().Add(30 * time.Second)
	for {
		wh, err := svc.Store.Webhook(context.Background(), ws.WorkspaceID, chathook.Outbound)
		if err == nil && wh.DisabledReason != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook was not disabled: %+v %v", wh, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	ctx := tab(t)
	acceptDialogs(ctx)
	do(t, ctx, "open the settings", chromedp.Navigate(svc.URL+"/settings/webhooks/outbound"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	banner := text(t, ctx, "#disabled-banner")
	for _, want := range []string{"The webhook was disabled automatically", "10 consecutive", "Last error: HTTP 503 Service Unavailable",
		"2 deliveries are waiting"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner does not say %q:\n%s", want, banner)
		}
	}
	waitFor(t, ctx, "failed attempts in the activity log", `document.querySelectorAll('#activity .badge.retrying').length === 2`)
	screenshot(t, ctx, "disabled", 1280, 800, true)

	// The detailed log, downloaded by the browser into a folder.
	dir := t.TempDir()
	downloads := chromedp.Events(ctx, browser.DownloadProgress)
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	do(t, ctx, "click the download link", chromedp.Click(chromedp.ID("download-log")))
	var file string
	for ev, err := range downloads {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(rows) < 1+chathook.DisableAfter || strings.Join(rows[0], ",") !=
		"time,webhook_id,delivery_id,kind,chat_id,messages,attempt,url,outcome,http_status,duration_ms,error" ||
		rows[1][11] != "HTTP 503 Service Unavailable" {
		t.Fatalf("the downloaded log (%v):\n%s", err, data)
	}

	do(t, ctx, "switch on and discard what waited",
		chromedp.Click(chromedp.CSS(`label:has(#pending-discard)`)),
		chromedp.Click(chromedp.CSS(`label[for="enabled"]`)),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("saved")),
		chromedp.WaitNotPresent(chromedp.ID("disabled-banner")),
	)
	waitFor(t, ctx, "two discarded deliveries in the activity log", `document.querySelectorAll('#activity .badge.discarded').length === 2`)
	if n, _ := svc.Store.Pending(context.Background(), ws.WorkspaceID, chathook.Outbound); n != 0 {
		t.Errorf("%d deliveries still wait after discarding", n)
	}
}

func ptr[T any](v T) *T { return &v }

// apiMessage is one message as the ingest API takes it, minutes after
// 09:00 on 2026-03-02.
func apiMessage(chat, name, id, direction, text string, minutes int) string {
	ts := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339)
	return fmt.Sprintf(`{"account": {"phone": "+15550000000", "full_name": "Olga Owner", "email": "owner@acme.example"},
		"chat": {"external_id": %q, "full_name": %q, "phone": %q}, "message_id": %q, "direction": %q,
		"timestamp": %q, "text": %q}`, chat, name, chat, id, direction, ts, text)
}

// The activity log fills by itself while the page is open, and the test
// button shows the receiver's answer without counting as a delivery.
func TestBrowserActivityRefreshAndTestMessage(t *testing.T) {
	svc, ws := service(t)
	sink := chathooktest.NewSink(t)
	ws.PointAt(t, sink.URL+"/hook")
	ctx := tab(t)
	do(t, ctx, "open the settings", chromedp.Navigate(svc.URL+"/settings/webhooks/outbound"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "see an empty activity log", chromedp.WaitVisible(chromedp.CSS("#activity .empty")))
	run(t, ctx, "mark the page", chromedp.Evaluate[bool]("window.notReloaded = true"))

	ws.Post(t, apiMessage("+15551000001", "John Doe", "a1", "received", "Hi! Is the blue one in stock?", 0),
		apiMessage("+15551000001", "John Doe", "a2", "sent", "Yes, we have it. Shall I reserve one?", 2),
		apiMessage("+15551000002", "Jane Roe", "a3", "received", "Thanks for the quick delivery 👍", 5))
	sink.WaitFor(t, 3, 10*time.Second)
	waitFor(t, ctx, "three deliveries in the activity log, without a reload",
		`window.notReloaded === true && document.querySelectorAll('#activity .badge.delivered').length === 3`)

	do(t, ctx, "send a test message", chromedp.Click(chromedp.ID("send-test")))
	if got := text(t, ctx, "#test-result"); !strings.HasPrefix(got, "Delivered: the receiver answered HTTP 204, in ") {
		t.Errorf("the test result says %q", got)
	}
	got := sink.WaitFor(t, 4, 10*time.Second)
	if id := got[3].Header.Get("webhook-id"); !strings.HasPrefix(id, "msg_test_") {
		t.Errorf("the test POST's webhook-id is %q", id)
	}
	acts, _ := svc.Store.Activity(context.Background(), ws.WorkspaceID, chathook.Outbound, 10)
	if len(acts) != 3 {
		t.Errorf("the test message became a delivery: %d in the activity", len(acts))
	}
	screenshot(t, ctx, "settings", 1280, 800, true)
	screenshot(t, ctx, "settings-phone", 390, 844, false)
}

// A permalink opens the chat at its message, for a signed-in user, after
// sign-in if need be; the chat list leads to every chat.
func TestBrowserPermalinkAndChat(t *testing.T) {
	svc, ws := service(t)
	conversation := []string{
		apiMessage("+15551000001", "John Doe", "c1", "received", "Hi! I ordered the blue backpack on Monday. Any news?", 0),
		apiMessage("+15551000001", "John Doe", "c2", "sent", "Hello John! Let me check that for you.", 3),
		apiMessage("+15551000001", "John Doe", "c3", "sent", "It left our warehouse this morning; the tracking number is AC-20418.", 6),
		apiMessage("+15551000001", "John Doe", "c4", "received", "Great, thanks! Can I change the delivery address?\nI'll be at the office.", 9),
		apiMessage("+15551000001", "John Doe", "c5", "sent", "Sure, send me the new address and I'll update it.", 11),
		apiMessage("+15551000001", "John Doe", "c6", "received", "<b>Acme Ltd</b>, 12 Harbour St — thank you! 🙏", 14),
		apiMessage("+15551000002", "Jane Roe", "j1", "received", "Do you ship to Canada?", 20),
	}
	ws.Post(t, conversation...)
	var long []string
	for i := range 120 {
		long = append(long, apiMessage("+15551000003", "Long chat", fmt.Sprintf("l%d", i), "received", fmt.Sprintf("message %d", i), 30+i))
	}
	ws.Post(t, long...)

	chats, _ := svc.Store.Chats(context.Background(), ws.WorkspaceID, store.ChatQuery{Limit: 10})
	if len(chats) != 3 {
		t.Fatalf("%d chats", len(chats))
	}
	longChat, johnChat := chats[0].ID, chats[2].ID
	msgs, _ := svc.Store.Messages(context.Background(), ws.WorkspaceID, longChat, store.Page{Limit: 200})
	target := msgs[7]

	ctx := tab(t)
	do(t, ctx, "open a permalink signed out", chromedp.Navigate(svc.URL+"/permalink/"+target.UUID+"/"), chromedp.WaitVisible(chromedp.ID("sign-in")))
	if body := run(t, ctx, "read the page", chromedp.Evaluate[string]("document.documentElement.outerHTML")); strings.Contains(body, "message 7") {
		t.Fatal("the sign-in page shows the message")
	}
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "see the highlighted message", chromedp.WaitVisible(chromedp.CSS(".msg.highlight")))
	want := fmt.Sprintf("/chat/%d/messages/?at=%s#m-%s", longChat, target.UUID, target.UUID)
	if loc := location(t, ctx); !strings.HasSuffix(loc, want) {
		t.Errorf("the permalink opened %s, want …%s", loc, want)
	}
	if got := text(t, ctx, ".msg.highlight .text"); got != "message 7" {
		t.Errorf("the highlighted message is %q", got)
	}
	waitFor(t, ctx, "the highlighted message in view", `(() => {
		const r = document.querySelector('.msg.highlight').getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight; })()`)

	do(t, ctx, "go to the chat list", chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.ID("chat-list")))
	if n := run(t, ctx, "count chats", chromedp.Evaluate[int]("document.querySelectorAll('#chat-list li').length")); n != 3 {
		t.Errorf("the chat list shows %d chats", n)
	}
	do(t, ctx, "open John's chat", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/chat/%d/messages/"]`, johnChat))),
		chromedp.WaitVisible(chromedp.ID("timeline")))
	if got := text(t, ctx, ".msg:last-of-type .text"); got != "<b>Acme Ltd</b>, 12 Harbour St — thank you! 🙏" {
		t.Errorf("the last message reads %q", got)
	}
	john, _ := svc.Store.Messages(context.Background(), ws.WorkspaceID, johnChat, store.Page{Limit: 10})
	do(t, ctx, "open a permalink into John's chat", chromedp.Navigate(svc.URL+"/permalink/"+john[3].UUID+"/"),
		chromedp.WaitVisible(chromedp.CSS(".msg.highlight")))
	screenshot(t, ctx, "chat", 1280, 800, false)
	screenshot(t, ctx, "chat-phone", 390, 844, false)
}
