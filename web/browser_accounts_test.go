package web_test

import (
	"strings"
	"testing"
	"time"

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
