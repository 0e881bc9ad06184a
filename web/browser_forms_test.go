package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"go.mau.fi/whatsmeow/types/events"
)

// An empty "Add a Cloud API number" form, sent from the browser, comes
// back once with all its errors: a summary at the top linking to each
// field, and each field marked invalid with its error beside it.
func TestBrowserEmptyCloudAPIForm(t *testing.T) {
	h := newHarness(t, true, "")
	ctx := tab(t)
	do(t, ctx, "open the accounts page", chromedp.Navigate(h.base+"/accounts/"))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	do(t, ctx, "unfold the form", chromedp.WaitVisible(chromedp.ID("add-cloud-api")), chromedp.Click(chromedp.ID("add-cloud-api")),
		chromedp.WaitVisible(chromedp.ID("add-number")))
	do(t, ctx, "send it empty", chromedp.Click(chromedp.ID("add-number")), chromedp.WaitVisible(chromedp.ID("cloud-api-error")))

	summary := text(t, ctx, "#cloud-api-error")
	for _, want := range []string{"correct the 3 fields", "Phone number ID", "Phone number", "App secret"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary %q lacks %q", summary, want)
		}
	}
	if strings.Contains(summary, "again") {
		t.Errorf("the summary asks to type again what was never typed: %q", summary)
	}
	invalid := run(t, ctx, "read the invalid fields", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#cloud-api-form [aria-invalid="true"]'))
		.filter(function (i) { var e = document.getElementById(i.getAttribute('aria-describedby')); return e && e.offsetParent !== null && e.textContent.trim() !== ''; })
		.map(function (i) { return i.id; }).join(' ')`))
	if invalid != "phone_number_id display_phone_number app_secret" {
		t.Errorf("fields marked invalid with a visible error: %q", invalid)
	}
	do(t, ctx, "follow the summary's link", chromedp.Click(chromedp.CSS(`#cloud-api-error a[href="#display_phone_number"]`)))
	if loc := location(t, ctx); !strings.HasSuffix(loc, "#display_phone_number") {
		t.Errorf("the summary's link led to %s", loc)
	}
}

// Connect without WhatsApp in reach: the page says so for a person, the
// error folded away; Retry, once WhatsApp is back, starts a new linking.
// A linking that then fails moves its page to the failed state by
// itself, and its Retry starts another.
func TestBrowserConnectRetry(t *testing.T) {
	h, wa, _ := withWhatsApp(t)
	ctx := tab(t)
	do(t, ctx, "open the accounts page", chromedp.Navigate(h.base+"/accounts/"))
	signIn(t, ctx, h.base, "owner@acme.example", password)
	wa.SetUnreachable(true)
	do(t, ctx, "press Connect", chromedp.WaitVisible(chromedp.ID("connect")), chromedp.Click(chromedp.ID("connect")),
		chromedp.WaitVisible(chromedp.ID("connect-problem")))
	if got := text(t, ctx, "#connect-problem"); !strings.HasPrefix(got, "chathook cannot reach WhatsApp") {
		t.Errorf("the problem reads %q", got)
	}
	folded := run(t, ctx, "read the detail", chromedp.Evaluate[string](`(function () { var d = document.getElementById('connect-detail');
		return [!!d && !d.open, d.textContent.indexOf('no such host') >= 0, document.getElementById('connect-error').innerText.indexOf('no such host') < 0].join(' '); })()`))
	if folded != "true true true" {
		t.Errorf("the technical detail is not there, folded away (closed, there, not shown): %s", folded)
	}

	wa.SetUnreachable(false)
	do(t, ctx, "press Retry", chromedp.Click(chromedp.ID("retry")), chromedp.WaitVisible(chromedp.ID("qr")))
	first := location(t, ctx)
	if !strings.Contains(first, "/accounts/connect/") {
		t.Fatalf("Retry led to %s", first)
	}

	wa.Unpaired(t).Emit(&events.Disconnected{})
	waitFor(t, ctx, "the failed state", `!!document.getElementById('pairing-error') && !!document.getElementById('retry')`)
	do(t, ctx, "press Retry again", chromedp.Click(chromedp.ID("retry")), chromedp.WaitVisible(chromedp.ID("qr")))
	if second := location(t, ctx); second == first || !strings.Contains(second, "/accounts/connect/") {
		t.Errorf("the second Retry led to %s, after %s", second, first)
	}
}
