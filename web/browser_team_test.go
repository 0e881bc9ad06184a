package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The owner invites Olga from the Team page and copies the link; Olga
// opens it in a browser of her own, chooses a password and lands signed
// in on the chats page; the owner's Team page then lists her. Once the
// owner removes her, her next page load goes to sign-in.
func TestBrowserTeamInvite(t *testing.T) {
	svc, _ := service(t)
	owner := tab(t)
	acceptDialogs(owner)
	do(t, owner, "open chathook", chromedp.Navigate(svc.URL+"/chats/"))
	signIn(t, owner, svc.URL, "owner@acme.example", browserPassword)
	do(t, owner, "open Team from the navigation",
		chromedp.WaitVisible(chromedp.ID("nav-team")),
		chromedp.Click(chromedp.ID("nav-team")),
		chromedp.WaitVisible(chromedp.ID("invite-form")),
	)
	if got := text(t, owner, "#self-note"); !strings.Contains(got, "cannot remove yourself") {
		t.Errorf("the owner's own row says %q, want why they cannot remove themselves", got)
	}
	do(t, owner, "invite olga",
		chromedp.SendKeys(chromedp.ID("invite-email"), "olga@acme.example"),
		chromedp.SendKeys(chromedp.ID("invite-name"), "Olga Petrova"),
		chromedp.Click(chromedp.ID("invite")),
		chromedp.WaitVisible(chromedp.ID("link-url")),
	)
	link := run(t, owner, "read the link", chromedp.Value(chromedp.ID("link-url")))
	if !strings.HasPrefix(link, svc.URL+"/invite/") {
		t.Fatalf("the link shown is %q, want one on %s", link, svc.URL)
	}
	do(t, owner, "copy it", chromedp.Click(chromedp.CSS(`button[data-copy="link-url"]`)))
	waitFor(t, owner, "the link selected, and Copied", `(function () { var f = document.getElementById('link-url');
		return document.activeElement === f && f.selectionEnd === f.value.length &&
			document.querySelector('button[data-copy="link-url"]').textContent === 'Copied'; })()`)
	screenshot(t, owner, "team", 1280, 800, true)
	screenshot(t, owner, "team-phone", 390, 844, true)

	olga := tab(t) // a browser context of her own: no cookie of the owner's
	do(t, olga, "open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("join-form")))
	if got := run(t, olga, "read her name", chromedp.Value(chromedp.ID("name"))); got != "Olga Petrova" {
		t.Errorf("the name field holds %q, want the name the owner typed", got)
	}
	do(t, olga, "choose a password",
		chromedp.SendKeys(chromedp.ID("password"), "olga's own password"),
		chromedp.SendKeys(chromedp.ID("password2"), "olga's own password"),
		chromedp.Click(chromedp.ID("join")),
		chromedp.WaitVisible(chromedp.ID("user-email")),
	)
	if loc := location(t, olga); loc != svc.URL+"/chats/" {
		t.Errorf("olga landed on %s, want the chats page", loc)
	}
	if got := text(t, olga, "#user-email"); got != "olga@acme.example" {
		t.Errorf("signed in as %q, want olga@acme.example", got)
	}

	do(t, owner, "open Team again", chromedp.Navigate(svc.URL+"/settings/team"), chromedp.WaitVisible(chromedp.ID("teammates")))
	if got := text(t, owner, "#teammates"); !strings.Contains(got, "Olga Petrova") || !strings.Contains(got, "olga@acme.example") {
		t.Fatalf("the team lists %q, want Olga", got)
	}
	// On a phone each teammate is a block: nothing reaches past the screen.
	do(t, owner, "narrow to a phone", chromedp.EmulateViewport(390, 844))
	waitFor(t, owner, "the team page within 390 px", `document.documentElement.scrollWidth <= 390 &&
		document.getElementById('remove-' + document.querySelector('#teammates tr[data-user-id]:last-child').dataset.userId).getBoundingClientRect().right <= 390`)
	do(t, owner, "widen again", chromedp.EmulateViewport(1280, 800))
	do(t, owner, "remove olga",
		chromedp.Click(chromedp.CSS(`#teammates button.danger`)),
		chromedp.WaitVisible(chromedp.ID("removed")),
	)
	if got := text(t, owner, "#teammates"); strings.Contains(got, "olga@acme.example") {
		t.Errorf("the team after removing olga lists %q", got)
	}
	do(t, olga, "load a page as olga", chromedp.Navigate(svc.URL+"/chats/"), chromedp.WaitVisible(chromedp.ID("sign-in")))
	if loc := location(t, olga); !strings.Contains(loc, "/signin") {
		t.Errorf("olga's next page after removal is %s, want sign-in", loc)
	}
}
