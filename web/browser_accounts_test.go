package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chromedp/chromedp"
)

// Connect an account in the browser: the QR code loads, a rotated code
// replaces it without a reload, and when the phone accepts the page says
// Connected with the number. CHATHOOK_SCREENSHOTS also gets the page with
// its QR code (docs/accounts-qr.png).
func TestBrowserConnectAccount(t *testing.T) {
	h, wa, _ := withWhatsApp(t)
	ctx := tab(t)
	do(t, ctx, "open the accounts page", chromedp.Navigate(h.base+"/accounts/"))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "land on the accounts page", chromedp.WaitVisible(chromedp.ID("connect")))
	if got := text(t, ctx, "#no-accounts"); !strings.Contains(got, "No WhatsApp accounts yet") {
		t.Errorf("an empty list says %q", got)
	}

	do(t, ctx, "press Connect", chromedp.Click(chromedp.ID("connect")), chromedp.WaitVisible(chromedp.ID("qr")))
	waitFor(t, ctx, "the QR code to load",
		`(function () { var i = document.getElementById('qr'); return !!i && i.complete && i.naturalWidth === 320; })()`)
	if loc := location(t, ctx); !strings.Contains(loc, "/accounts/connect/") {
		t.Errorf("Connect led to %s", loc)
	}
	first := run(t, ctx, "read the QR code's address", chromedp.Evaluate[string](`document.getElementById('qr').getAttribute('src')`))
	screenshot(t, ctx, "accounts-qr", 1280, 720, false)

	// WhatsApp's first code lasts a minute: past it, the page's script
	// shows the next one, in the same page (no reload: the marker stays).
	do(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.samePage = true`))
	h.advance(61 * time.Second)
	waitFor(t, ctx, "the next QR code", `(function () { var i = document.getElementById('qr');
		return window.samePage === true && !!i && i.getAttribute('src') !== `+jsString(first)+` && i.complete && i.naturalWidth === 320; })()`)

	wa.Unpaired(t).Pair(t, "972500000001:12@s.whatsapp.net", "Amnon Haha")
	waitFor(t, ctx, "the connected state", `!!document.getElementById('pairing-connected')`)
	if got := text(t, ctx, "#paired-account"); !strings.Contains(got, "+972500000001 (Amnon Haha) is linked to chathook") {
		t.Errorf("connected says %q", got)
	}
	do(t, ctx, "go back to the list", chromedp.Click(chromedp.ID("back-to-accounts")), chromedp.WaitVisible(chromedp.CSS("table.accounts")))
	if got := text(t, ctx, "table.accounts tbody tr"); !strings.Contains(got, "+972500000001") || !strings.Contains(strings.ToLower(got), "connected") {
		t.Errorf("the list shows %q", got)
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Add a Cloud API number in the browser: a missing app secret is shown
// by its field, the typed values stay; once added, the setup page shows
// the callback URL and the verify token, whose Copy button copies it;
// the list shows the number waiting for Meta, and Remove removes it.
// CHATHOOK_SCREENSHOTS also gets the setup page
// (docs/accounts-cloud-api.png).
func TestBrowserCloudAPINumber(t *testing.T) {
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{BaseURL: "https://chathook.example.com"}})
	ws := svc.NewWorkspace(t, "acme")
	ws.AddUser(t, "owner@acme.example", "Olga Owner", browserPassword)
	ctx := tab(t)
	acceptDialogs(ctx)
	do(t, ctx, "open the accounts page", chromedp.Navigate(svc.URL+"/accounts/"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)

	do(t, ctx, "unfold the form", chromedp.WaitVisible(chromedp.ID("add-cloud-api")), chromedp.Click(chromedp.ID("add-cloud-api")),
		chromedp.WaitVisible(chromedp.ID("phone_number_id")))
	if got := run(t, ctx, "read the teammate", chromedp.Value(chromedp.ID("email"))); got != "owner@acme.example" {
		t.Errorf("the teammate is prefilled with %q", got)
	}
	token := run(t, ctx, "read the verify token", chromedp.Value(chromedp.ID("verify_token")))
	if len(token) != 32 {
		t.Errorf("the suggested verify token is %q", token)
	}
	do(t, ctx, "send the form without the app secret",
		chromedp.SendKeys(chromedp.ID("phone_number_id"), "106540352242922"),
		chromedp.SendKeys(chromedp.ID("display_phone_number"), "+1 555 078 3881"),
		chromedp.SendKeys(chromedp.ID("full_name"), "Acme Support"),
		chromedp.Click(chromedp.ID("add-number")),
		chromedp.WaitVisible(chromedp.ID("app_secret-error")),
	)
	if got := text(t, ctx, "#app_secret-error"); !strings.Contains(got, "App secret") {
		t.Errorf("the app secret's error says %q", got)
	}
	waitFor(t, ctx, "the typed values kept, the error right below the app secret",
		`document.getElementById('app_secret').nextElementSibling.id === 'app_secret-error' &&
		 document.getElementById('phone_number_id').value === '106540352242922' &&
		 document.getElementById('full_name').value === 'Acme Support' &&
		 document.getElementById('verify_token').value === `+jsString(token))

	do(t, ctx, "type the app secret and send",
		chromedp.SendKeys(chromedp.ID("app_secret"), "0123456789abcdef-meta-app-secret"),
		chromedp.Click(chromedp.ID("add-number")),
		chromedp.WaitVisible(chromedp.ID("callback-url")),
	)
	if got := text(t, ctx, "#added"); !strings.Contains(got, "+15550783881 is registered") {
		t.Errorf("the notice says %q", got)
	}
	callback := "https://chathook.example.com/sources/cloud-api/" + ws.WorkspaceID
	if got := run(t, ctx, "read the callback URL", chromedp.Value(chromedp.ID("callback-url"))); got != callback {
		t.Errorf("the callback URL shown is %q, want %q", got, callback)
	}
	if got := run(t, ctx, "read the verify token", chromedp.Value(chromedp.ID("verify-token"))); got != token {
		t.Errorf("the verify token shown is %q, want %q", got, token)
	}
	if got := text(t, ctx, "#meta-steps"); !strings.Contains(got, "WhatsApp → Configuration") || !strings.Contains(got, "Verify and save") {
		t.Errorf("the steps say %q", got)
	}
	screenshot(t, ctx, "accounts-cloud-api", 1280, 800, true)
	do(t, ctx, "copy the callback URL", chromedp.Click(chromedp.CSS(`button[data-copy="callback-url"]`)))
	waitFor(t, ctx, "the callback URL selected, and Copied", `(function () { var f = document.getElementById('callback-url');
		return document.activeElement === f && f.selectionStart === 0 && f.selectionEnd === f.value.length &&
			document.querySelector('button[data-copy="callback-url"]').textContent === 'Copied'; })()`)

	do(t, ctx, "go back to the list", chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.CSS("table.accounts")))
	row := strings.ToLower(text(t, ctx, "table.accounts tbody tr")) // badges are in capitals
	for _, want := range []string{"+15550783881", "acme support", "cloud api", "waiting for meta"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list shows %q, without %q", row, want)
		}
	}
	numbers, err := svc.Store.CloudAPINumbers(context.Background(), ws.WorkspaceID)
	if err != nil || len(numbers) != 1 || numbers[0].AppSecret != "0123456789abcdef-meta-app-secret" {
		t.Fatalf("registered %+v, %v", numbers, err)
	}

	do(t, ctx, "remove it", chromedp.Click(chromedp.ID("remove-"+strconv.FormatInt(numbers[0].ID, 10))), chromedp.WaitVisible(chromedp.ID("done")))
	if got := text(t, ctx, "table.accounts tbody tr"); !strings.Contains(strings.ToLower(got), "removed") || strings.Contains(got, "Remove") {
		t.Errorf("after Remove, the list shows %q", got)
	}
	if numbers, _ := svc.Store.CloudAPINumbers(context.Background(), ws.WorkspaceID); len(numbers) != 0 {
		t.Errorf("still registered: %+v", numbers)
	}
}
