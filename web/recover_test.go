package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/payload"
	"github.com/chathook/chathook/store"
	"github.com/chromedp/chromedp"
)

// failForGood fails every delivery of the workspace that is due, with no
// retry left, as the dispatcher does once the retries run out.
func (h *harness) failForGood(ws string) int {
	h.t.Helper()
	ctx := context.Background()
	got, err := h.st.ClaimDue(ctx, "test", h.clock(), time.Minute, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var outs []store.Finished
	for _, d := range got {
		outs = append(outs, store.Finished{Outcome: chathook.Outcome{DeliveryID: d.ID, URL: d.Webhook.URL, At: h.clock(), Status: 503, Err: "HTTP 503"}})
	}
	if err := h.st.Finish(ctx, outs); err != nil {
		h.t.Fatal(err)
	}
	return len(got)
}

// inHTML is a secret as html/template writes it in a page.
func inHTML(secret string) string { return strings.ReplaceAll(secret, "+", "&#43;") }

// The recovery form queues failed deliveries of the period again and
// says how many; a second time it says none; bad times are refused beside
// their field, and nothing is queued.
func TestRecoverFormQueuesAndSaysHowMany(t *testing.T) {
	h := newHarness(t, true, "")
	ctx := context.Background()
	hook := "https://hook.example.com/in"
	if _, err := h.st.UpdateWebhook(ctx, h.ws.WorkspaceID, chathook.Outbound, h.clock(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	h.ingest(h.ws.WorkspaceID, "Ann", "one", "two")
	h.ingest(h.ws.WorkspaceID, "Bob", "three")
	// Chat Ann's second message waits behind its first: two rounds.
	if n := h.failForGood(h.ws.WorkspaceID) + h.failForGood(h.ws.WorkspaceID); n != 3 {
		t.Fatalf("failed %d deliveries, want 3", n)
	}
	v := h.signedIn("acme")
	v.get("/settings/webhooks/outbound")
	since := h.clock().Add(-time.Minute).UTC().Format("2006-01-02T15:04")

	for _, c := range []struct{ name, since, until, field string }{
		{"no start", "", "", "since"},
		{"not a time", "yesterday", "", "since"},
		{"bad end", since, "soon", "until"},
		{"end before start", since, h.clock().Add(-time.Hour).UTC().Format("2006-01-02T15:04"), "until"},
	} {
		a := v.post("/settings/webhooks/outbound/recover", url.Values{"since": {c.since}, "until": {c.until}})
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="`+c.field+`-error"`) ||
			!strings.Contains(a.body, "Nothing was queued") {
			t.Errorf("%s: %d, want 422 with an error beside %s", c.name, a.status, c.field)
		}
		if c.since != "" && !strings.Contains(a.body, `value="`+c.since+`"`) {
			t.Errorf("%s: the form lost what was typed", c.name)
		}
	}
	if n, _ := h.st.Pending(ctx, h.ws.WorkspaceID, chathook.Outbound); n != 0 {
		t.Fatalf("refused forms queued %d", n)
	}
	if a := v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}, "csrf": {"forged"}}); a.status == http.StatusSeeOther {
		t.Errorf("a forged CSRF token recovered: %d", a.status)
	}

	h.advance(time.Second) // until defaults to now, and is exclusive
	a := v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/outbound?recovered=3#recover" {
		t.Fatalf("recover: %d %s", a.status, a.header.Get("Location"))
	}
	if page := v.get(a.header.Get("Location")); !strings.Contains(page.body, "3 deliveries were queued again.") {
		t.Errorf("the page does not say how many were queued:\n%s", page.body)
	}
	if n, _ := h.st.Pending(ctx, h.ws.WorkspaceID, chathook.Outbound); n != 3 {
		t.Errorf("%d pending after the recovery, want 3", n)
	}
	a = v.post("/settings/webhooks/outbound/recover", url.Values{"since": {since}})
	if page := v.get(a.header.Get("Location")); !strings.Contains(page.body, "nothing was queued") {
		t.Errorf("a second recovery does not say nothing was queued: %s", a.header.Get("Location"))
	}
}

// The rotate button makes a new secret, shown with until when the old one
// signs; "Send a test message" then signs with both, so a receiver that
// knows only the old secret accepts it.
func TestRotateButtonAndTestMessageSignWithBoth(t *testing.T) {
	h := newHarness(t, true, "")
	ctx := context.Background()
	oldKey, err := payload.ParseSecret(h.ws.WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	sink := chathooktest.NewSink(t)
	sink.Respond = func(_ int, r *http.Request) int {
		body := new(strings.Builder)
		buf := make([]byte, 1<<16)
		for {
			n, err := r.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if !payload.Verify(oldKey, r.Header.Get("webhook-id"), ts, []byte(body.String()), r.Header.Get("webhook-signature")) {
			return http.StatusUnauthorized
		}
		return http.StatusNoContent
	}
	if _, err := h.st.UpdateWebhook(ctx, h.ws.WorkspaceID, chathook.Outbound, h.clock(), chathook.WebhookUpdate{URL: &sink.URL}); err != nil {
		t.Fatal(err)
	}
	v := h.signedIn("acme")
	if page := v.get("/settings/webhooks/outbound"); !strings.Contains(page.body, `data-confirm="Make a new signing secret?`) ||
		strings.Contains(page.body, `id="previous-secret"`) {
		t.Error("before a rotation: no confirmed rotate button, or a previous secret shown")
	}
	a := v.post("/settings/webhooks/outbound/secret/rotate", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/outbound?rotated=1#secret" {
		t.Fatalf("rotate: %d %s", a.status, a.header.Get("Location"))
	}
	wh, _ := h.st.Webhook(ctx, h.ws.WorkspaceID, chathook.Outbound)
	if wh.Secret == h.ws.WebhookSecret || wh.PreviousSecret != h.ws.WebhookSecret {
		t.Fatalf("after the rotation: secret %q, previous %q", wh.Secret, wh.PreviousSecret)
	}
	until := h.clock().Add(24 * time.Hour).UTC().Format("2006-01-02 15:04:05 UTC")
	page := v.get(a.header.Get("Location"))
	for _, want := range []string{`id="rotated"`, inHTML(wh.Secret), "also signs every POST until <time datetime=", until, `id="previous-secret"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page after the rotation does not show %q", want)
		}
	}
	if strings.Contains(page.body, inHTML(h.ws.WebhookSecret)) {
		t.Error("the page shows the previous secret itself")
	}
	test := v.post("/settings/webhooks/outbound/test", url.Values{})
	if !strings.Contains(test.body, "Delivered: the receiver answered HTTP 204") {
		t.Errorf("a receiver of the old secret refused the test message; the page says:\n%s", test.body)
	}
	if got := sink.Got(); len(got) != 1 || len(strings.Fields(got[0].Header.Get("webhook-signature"))) != 2 {
		t.Errorf("the test message was not signed twice: %v", got)
	}

	h.advance(24*time.Hour + time.Second)
	if page := v.get("/settings/webhooks/outbound"); strings.Contains(page.body, `id="previous-secret"`) {
		t.Error("a day later the page still says the previous secret signs")
	}
}

// In the browser: rotate the secret (confirming), see the new one; then
// recover discarded deliveries with the form and see them arrive.
func TestBrowserRotateAndRecover(t *testing.T) {
	svc, ws := service(t)
	ctx := tab(t)
	acceptDialogs(ctx)
	sink := chathooktest.NewSink(t)
	start := time.Now().UTC()

	// Two messages wait behind a switched-off webhook and are discarded.
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"url": sink.URL, "enabled": false}); status != http.StatusOK {
		t.Fatalf("switch off: %d %s", status, body)
	}
	ws.Post(t, `{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+15551000001"}, "message_id": "a1", "direction": "received", "text": "first"}`,
		`{"account": {"phone": "+15550000000"}, "chat": {"external_id": "+15551000001"}, "message_id": "a2", "direction": "received", "text": "second"}`)
	if status, body := ws.Do(t, http.MethodPut, "/api/v1/webhooks/outbound", map[string]any{"enabled": true, "discard_pending": true}); status != http.StatusOK {
		t.Fatalf("discard: %d %s", status, body)
	}

	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "be signed in", chromedp.WaitVisible(chromedp.ID("user-email")))
	do(t, ctx, "open the Outbound page", chromedp.Navigate(svc.URL+"/settings/webhooks/outbound"),
		chromedp.WaitVisible(chromedp.ID("settings-form")))
	do(t, ctx, "rotate the secret",
		chromedp.Click(chromedp.CSS("#secret summary")),
		chromedp.WaitVisible(chromedp.ID("rotate-secret")),
		chromedp.Click(chromedp.ID("rotate-secret")),
		chromedp.WaitVisible(chromedp.ID("rotated")),
	)
	wh, _ := svc.Store.Webhook(context.Background(), ws.WorkspaceID, chathook.Outbound)
	if got := text(t, ctx, "#secret-value"); got != wh.Secret || got == ws.WebhookSecret {
		t.Errorf("the page shows secret %q; stored %q, before %q", got, wh.Secret, ws.WebhookSecret)
	}
	if got := text(t, ctx, "#rotated"); !strings.Contains(got, "previous secret also signs every POST until") {
		t.Errorf("after rotating the page says %q", got)
	}

	do(t, ctx, "recover from before the messages",
		chromedp.Evaluate[chromedp.Void]("document.getElementById('since').value = "+strconv.Quote(start.Add(-time.Minute).Format("2006-01-02T15:04"))),
		chromedp.Click(chromedp.ID("recover-submit")),
		chromedp.WaitVisible(chromedp.ID("recovered")),
	)
	if got := text(t, ctx, "#recovered"); got != "2 deliveries were queued again." {
		t.Errorf("after recovering the page says %q", got)
	}
	got := sink.WaitFor(t, 2, 10*time.Second)
	var order []string
	for _, r := range got {
		order = append(order, chathooktest.Verified(t, ws, r).Message.ID)
	}
	if strings.Join(order, " ") != "a1 a2" {
		t.Errorf("delivered %v, want a1 a2", order)
	}
}
