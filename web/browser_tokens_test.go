package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chromedp/chromedp"
)

// The owner creates an API token from the navigation, copies it, and
// the API takes it at once; it is not shown again, and once revoked the
// API refuses it.
func TestBrowserAPITokens(t *testing.T) {
	svc, ws := service(t)
	ctx := tab(t)
	acceptDialogs(ctx)
	do(t, ctx, "open chathook", chromedp.Navigate(svc.URL+"/chats/"))
	signIn(t, ctx, svc.URL, "owner@acme.example", browserPassword)
	do(t, ctx, "open API tokens from the navigation",
		chromedp.WaitVisible(chromedp.ID("nav-tokens")),
		chromedp.Click(chromedp.ID("nav-tokens")),
		chromedp.WaitVisible(chromedp.ID("token-form")),
	)
	if got := text(t, ctx, "#tokens"); !strings.Contains(got, "default") || !strings.Contains(got, "never") {
		t.Errorf("the list shows %q, want the default token, never used", got)
	}
	// A program uses the default token: its last use shows once the page
	// is loaded again.
	if status, _ := chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/webhooks/outbound", ws.APIToken, nil); status != http.StatusOK {
		t.Fatalf("the default token: %d, want 200", status)
	}
	do(t, ctx, "create a token",
		chromedp.SendKeys(chromedp.ID("token-name"), "Zapier"),
		chromedp.Click(chromedp.ID("create-token")),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	token := run(t, ctx, "read the new token", chromedp.Value(chromedp.ID("new-token")))
	if !strings.HasPrefix(token, "chk_") {
		t.Fatalf("the token shown is %q", token)
	}
	do(t, ctx, "copy it", chromedp.Click(chromedp.CSS(`button[data-copy="new-token"]`)))
	waitFor(t, ctx, "the token selected, and Copied", `(function () { var f = document.getElementById('new-token');
		return document.activeElement === f && f.selectionStart === 0 && f.selectionEnd === f.value.length &&
			document.querySelector('button[data-copy="new-token"]').textContent === 'Copied'; })()`)
	get := func() int {
		status, _ := chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/webhooks/outbound", token, nil)
		return status
	}
	if status := get(); status != http.StatusOK {
		t.Fatalf("the API with the new token: %d, want 200", status)
	}
	screenshot(t, ctx, "api-tokens", 1280, 800, true)

	do(t, ctx, "open the page again", chromedp.Navigate(svc.URL+"/settings/api-tokens"), chromedp.WaitVisible(chromedp.ID("tokens")))
	html := run(t, ctx, "read the page", chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if strings.Contains(html, token) {
		t.Error("the token is shown again")
	}
	row := text(t, ctx, `#tokens tbody tr:nth-child(2)`)
	// In the browser's zone and locale (web/static/time.js): UTC here.
	if !strings.Contains(row, "Zapier") || strings.Contains(row, "never") || !regexp.MustCompile(`\d{4}, \d\d:\d\d:\d\d UTC`).MatchString(row) {
		t.Errorf("Zapier's row says %q, want its name and when it was used", row)
	}
	do(t, ctx, "revoke Zapier",
		chromedp.Click(chromedp.CSS(`#tokens tbody tr:nth-child(2) button.danger`)),
		chromedp.WaitVisible(chromedp.ID("revoked")),
	)
	if got := text(t, ctx, "#tokens"); strings.Contains(got, "Zapier") {
		t.Errorf("the list after revoking shows %q", got)
	}
	if status := get(); status != http.StatusUnauthorized {
		t.Errorf("the API with the revoked token: %d, want 401", status)
	}
	if status, _ := chathooktest.Do(t, http.MethodGet, svc.URL+"/api/v1/webhooks/outbound", ws.APIToken, nil); status != http.StatusOK {
		t.Errorf("the default token after revoking Zapier: %d, want 200", status)
	}
	if got := text(t, ctx, "#tokens tbody tr:first-child .last-used"); got == "never" {
		t.Error("the default token was used, and its row says never")
	}
}

var setupLink = regexp.MustCompile(`Open (http://\S+/setup\?code=\S+) to create the first workspace`)

// A newcomer starts chathook on an empty database, opens the link it
// printed, fills one form and lands signed in on the accounts page.
func TestBrowserFirstRunSetup(t *testing.T) {
	var console chathooktest.SyncBuffer
	svc := chathooktest.Start(t, chathooktest.Options{Config: app.Config{Console: &console}})
	var m []string
	chathooktest.Eventually(t, "the setup link on the console", func() bool {
		m = setupLink.FindStringSubmatch(console.String())
		return m != nil
	})
	if !strings.HasPrefix(m[1], svc.URL+"/setup?code=") {
		t.Errorf("the link %s is not on the service's base URL %s", m[1], svc.URL)
	}
	ctx := tab(t)
	do(t, ctx, "open the setup link", chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.ID("setup-form")))
	screenshot(t, ctx, "setup", 1280, 800, true)
	do(t, ctx, "fill the form",
		chromedp.SendKeys(chromedp.ID("workspace"), "Acme"),
		chromedp.SendKeys(chromedp.ID("owner_name"), "Olga Owner"),
		chromedp.SendKeys(chromedp.ID("email"), "olga@acme.example"),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.Click(chromedp.ID("create-workspace")),
		chromedp.WaitVisible(chromedp.ID("nav-accounts")),
	)
	if loc := location(t, ctx); loc != svc.URL+"/accounts/" {
		t.Errorf("landed on %s, want the accounts page", loc)
	}
	if got := text(t, ctx, "#user-email"); got != "olga@acme.example" {
		t.Errorf("signed in as %q", got)
	}
	// The link is used up: opening it again says setup is closed.
	do(t, ctx, "open the link again", chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.ID("error-message")))
	if got := text(t, ctx, "#error-message"); !strings.Contains(got, "Setup is closed") {
		t.Errorf("the used link says %q", got)
	}
}
