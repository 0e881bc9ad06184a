package web_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/event"
	"github.com/chromedp/chromedp"
)

// The owner opens Webhooks from the navigation, adds an endpoint through
// the form with two event types ticked (after a refused try, which keeps
// what was typed), lands on its page, sees it in the list, and deletes
// it. CHATHOOK_SCREENSHOTS also gets the list (docs/webhooks.png) and
// the form (docs/webhook-add.png).
func TestBrowserAddEndpoint(t *testing.T) {
	svc, ws := service(t)
	sink := chathooktest.NewSink(t)
	bg := context.Background()
	hook := sink.URL + "/outbound"
	if _, err := svc.Store.UpdateWebhook(bg, ws.WorkspaceID, chathook.Outbound, time.Now(), chathook.WebhookUpdate{URL: &hook}); err != nil {
		t.Fatal(err)
	}
	off := false
	audit, err := svc.Store.CreateWebhook(bg, ws.WorkspaceID, chathook.Webhook{ID: "ep_5d1c0a7f3b9e2468", URL: "https://audit.example.com/chathook",
		Description: "Audit trail", Events: []string{event.All}, Format: event.Envelope, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.UpdateWebhook(bg, ws.WorkspaceID, audit.ID, time.Now(), chathook.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	ws.Post(t, apiMessage("+15551000001", "John Doe", "w1", "received", "Hi! Is the blue one in stock?", 0))
	sink.WaitFor(t, 1, 10*time.Second)

	ctx := tab(t)
	acceptDialogs(ctx)
	do(t, ctx, "open chathook", chromedp.Navigate(svc.URL+"/chats/"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "open Webhooks from the navigation",
		chromedp.WaitVisible(chromedp.ID("nav-webhooks")),
		chromedp.Click(chromedp.ID("nav-webhooks")),
		chromedp.WaitVisible(chromedp.ID("endpoints")),
	)
	waitFor(t, ctx, "outbound listed first, delivered", `(function () {
		var rows = document.querySelectorAll('#endpoints tbody tr');
		return rows.length === 2 && rows[0].dataset.endpoint === 'outbound' &&
			rows[0].querySelector('.last .badge.delivered') !== null &&
			rows[1].querySelector('.state').textContent.indexOf('disabled by you') >= 0; })()`)

	do(t, ctx, "open the add form", chromedp.Click(chromedp.ID("add-endpoint")), chromedp.WaitVisible(chromedp.ID("add-form")))
	tick := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(`input[name="events"][value="` + name + `"]`))
	}
	do(t, ctx, "fill it with a bad URL",
		chromedp.SendKeys(chromedp.ID("url"), "crm.example.com/hooks"),
		chromedp.SendKeys(chromedp.ID("description"), "CRM sync"),
		tick(event.MessageReceivedNew),
		tick(event.ChatCreated),
		chromedp.Click(chromedp.ID("add")),
		chromedp.WaitVisible(chromedp.ID("url-error")),
	)
	waitFor(t, ctx, "the error beside the URL, and what was typed kept", `document.getElementById('url').value === 'crm.example.com/hooks' &&
		document.getElementById('description').value === 'CRM sync' &&
		document.querySelector('input[name="events"][value="message:received:new"]').checked &&
		document.querySelector('input[name="events"][value="chat:created"]').checked &&
		document.querySelectorAll('input[name="events"]:checked').length === 2`)
	if list, _ := svc.Store.Webhooks(bg, ws.WorkspaceID); len(list) != 2 {
		t.Fatalf("a refused form added an endpoint: %d", len(list))
	}
	do(t, ctx, "start again on a new form, with a good URL",
		chromedp.Navigate(svc.URL+"/settings/webhooks/new"),
		chromedp.WaitVisible(chromedp.ID("add-form")),
		chromedp.SendKeys(chromedp.ID("url"), sink.URL+"/crm"),
		chromedp.SendKeys(chromedp.ID("description"), "CRM sync"),
		tick(event.MessageReceivedNew),
		tick(event.ChatCreated),
		// The sticky header stays at the top of a full-page screenshot.
		chromedp.Evaluate[chromedp.Void]("document.activeElement.blur(); window.scrollTo(0, 0)"),
	)
	screenshot(t, ctx, "webhook-add", 1280, 800, true)
	do(t, ctx, "add it", chromedp.Click(chromedp.ID("add")), chromedp.WaitVisible(chromedp.ID("created")))
	if got := text(t, ctx, "#endpoint-name"); got != "CRM sync" {
		t.Errorf("the new endpoint's page is named %q", got)
	}
	id := text(t, ctx, "#endpoint-id")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/settings/webhooks/"+id+"?created=1") {
		t.Errorf("added, the browser is at %s", loc)
	}
	wh, err := svc.Store.Webhook(bg, ws.WorkspaceID, id)
	if err != nil {
		t.Fatal(err)
	}
	if wh.URL != sink.URL+"/crm" || wh.Format != event.Envelope || !wh.Enabled ||
		!slices.Equal(wh.Events, []string{event.ChatCreated, event.MessageReceivedNew}) {
		t.Errorf("added %+v", wh)
	}

	do(t, ctx, "back to the list", chromedp.Click(chromedp.ID("all-endpoints")), chromedp.WaitVisible(chromedp.ID("endpoints")))
	row := strings.ToLower(text(t, ctx, `#endpoints tr[data-endpoint="`+id+`"]`))
	for _, want := range []string{"crm sync", sink.URL + "/crm", "chat:created", "message:received:new", "event", "enabled", "none yet"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list's row lacks %q: %s", want, row)
		}
	}
	screenshot(t, ctx, "webhooks", 1280, 800, true)

	do(t, ctx, "delete it",
		chromedp.Click(chromedp.CSS(`#endpoints tr[data-endpoint="`+id+`"] a.endpoint-name`)),
		chromedp.WaitVisible(chromedp.ID("delete-endpoint")),
		chromedp.Click(chromedp.ID("delete-endpoint")),
		chromedp.WaitVisible(chromedp.ID("deleted")),
	)
	waitFor(t, ctx, "the list without it", `document.querySelector('#endpoints tr[data-endpoint="`+id+`"]') === null`)
	if _, err := svc.Store.Webhook(bg, ws.WorkspaceID, id); err == nil {
		t.Errorf("the endpoint is still there")
	}
}
