package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/web"
)

var shownLink = regexp.MustCompile(`id="link-url"[^>]*value="([^"]+)"`)

// teamLink is the path of the one-time link a Team page answer shows, or
// fails the test.
func teamLink(t *testing.T, a answer) string {
	t.Helper()
	m := shownLink.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil {
		t.Fatalf("no link shown: %d\n%s", a.status, a.body)
	}
	u, err := url.Parse(m[1])
	if err != nil || !strings.HasPrefix(u.Path, "/invite/") {
		t.Fatalf("link %q: %v", m[1], err)
	}
	return u.Path
}

// teammate adds a user to workspace acme and returns it with a visitor
// signed in as it.
func (h *harness) teammate(email, name string) (chathook.User, *visitor) {
	h.t.Helper()
	u, err := app.AddUser(context.Background(), h.st, h.ws.WorkspaceID, email, name, password)
	if err != nil {
		h.t.Fatal(err)
	}
	v := h.visitor()
	if a := v.signIn(email, password); a.status != http.StatusSeeOther {
		h.t.Fatalf("sign in as %s: %d", email, a.status)
	}
	return u, v
}

// An invitation is shown once; its holder chooses a name and password
// (every mistake named at once, beside its field), is signed in, and is
// then a teammate; the link works once.
func TestTeamInvitationSignsTheInviteeIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	owner := h.signedIn("acme")
	a := owner.get("/settings/team")
	if a.status != http.StatusOK || !strings.Contains(a.body, "owner@acme.example") || !strings.Contains(a.body, `id="nav-team" aria-current="page"`) ||
		!strings.Contains(a.body, `id="self-note"`) || strings.Contains(a.body, `id="link-url"`) {
		t.Fatalf("team page: %d\n%s", a.status, a.body)
	}
	link := teamLink(t, owner.post("/settings/team/invite", url.Values{"email": {" Olga@Acme.example "}, "name": {"Olga"}}))
	if a := owner.get("/settings/team"); strings.Contains(a.body, link) || strings.Contains(a.body, "olga@acme.example") {
		t.Error("the team page shows the link again, or lists olga before she joined")
	}

	olga := h.visitor()
	a = olga.get(link)
	if a.status != http.StatusOK || !strings.Contains(a.body, "olga@acme.example") || !strings.Contains(a.body, `value="Olga"`) {
		t.Fatalf("invitation page: %d\n%s", a.status, a.body)
	}
	a = olga.post(link, url.Values{"name": {""}, "password": {"short"}, "password2": {"other"}})
	for _, id := range []string{"name-error", "password-error", "password2-error"} {
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="`+id+`"`) {
			t.Errorf("a form with three mistakes: %d, want 422 with %s", a.status, id)
		}
	}
	a = olga.post(link, url.Values{"name": {"Olga K."}, "password": {"olga's new password"}, "password2": {"olga's new password"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/chats/" {
		t.Fatalf("join: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	if a := olga.get("/chats/"); a.status != http.StatusOK || !strings.Contains(a.body, "olga@acme.example") {
		t.Errorf("olga after joining: %d, want the chats page signed in as her", a.status)
	}
	if a := h.visitor().signIn("olga@acme.example", "olga's new password"); a.status != http.StatusSeeOther {
		t.Errorf("olga signs in with her new password: %d", a.status)
	}
	if a := owner.get("/settings/team"); !strings.Contains(a.body, "olga@acme.example") || !strings.Contains(a.body, "Olga K.") {
		t.Errorf("the team page does not list olga:\n%s", a.body)
	}
	again := h.visitor()
	if a := again.get(link); a.status != http.StatusGone || !strings.Contains(a.body, "Ask a teammate for a new one") {
		t.Errorf("a used invitation: %d, want 410 saying to ask for a new one", a.status)
	}
	if a := again.post(link, url.Values{"name": {"Eve"}, "password": {"eve's password 1"}, "password2": {"eve's password 1"}}); a.status != http.StatusGone {
		t.Errorf("posting a used invitation: %d, want 410", a.status)
	}
}

// The invite form names each wrong field at once; an email that already
// signs in is not invited; an invitation expires after a week.
func TestTeamInviteRefusesBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	h.workspace("bolt")
	owner := h.signedIn("acme")
	owner.get("/settings/team")
	a := owner.post("/settings/team/invite", url.Values{"email": {"not an email"}, "name": {strings.Repeat("n", 101)}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="invite-email-error"`) ||
		!strings.Contains(a.body, `id="invite-name-error"`) || shownLink.MatchString(a.body) {
		t.Errorf("bad email and name: %d, want 422 with both errors and no link\n%s", a.status, a.body)
	}
	a = owner.post("/settings/team/invite", url.Values{"email": {"owner@bolt.example"}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "already signs in") || shownLink.MatchString(a.body) {
		t.Errorf("an email of another workspace's user: %d, want 422 naming it\n%s", a.status, a.body)
	}
	link := teamLink(t, owner.post("/settings/team/invite", url.Values{"email": {"late@acme.example"}}))
	h.advance(chathook.InviteLifetime)
	if a := h.visitor().get(link); a.status != http.StatusGone {
		t.Errorf("an invitation a week old: %d, want 410", a.status)
	}
}

// Removing a teammate ends their session at once; nobody removes
// themselves, and another workspace's user cannot be reached.
func TestTeamRemoveEndsTheSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	olga, olgaV := h.teammate("olga@acme.example", "Olga")
	owner := h.signedIn("acme")
	a := owner.get("/settings/team")
	if !strings.Contains(a.body, `id="remove-`) || !strings.Contains(a.body, "olga@acme.example") {
		t.Fatalf("team page lists no olga to remove:\n%s", a.body)
	}
	if a := owner.post("/settings/team/"+itoa(olga.ID)+"/remove", url.Values{"csrf": {"wrong"}}); a.status != http.StatusForbidden {
		t.Errorf("remove without the CSRF token: %d, want 403", a.status)
	}
	self, _, err := h.st.UserByEmail(context.Background(), "owner@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if a := owner.post("/settings/team/"+itoa(self.ID)+"/remove", url.Values{}); a.status != http.StatusConflict ||
		!strings.Contains(a.body, "cannot remove yourself") {
		t.Errorf("removing oneself: %d, want 409 saying why", a.status)
	}
	h.workspace("bolt")
	boltOwner, _, err := h.st.UserByEmail(context.Background(), "owner@bolt.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{itoa(boltOwner.ID), "x", "99999"} {
		if a := owner.post("/settings/team/"+id+"/remove", url.Values{}); a.status != http.StatusNotFound {
			t.Errorf("removing %s: %d, want 404", id, a.status)
		}
		if a := owner.post("/settings/team/"+id+"/reset", url.Values{}); a.status != http.StatusNotFound || shownLink.MatchString(a.body) {
			t.Errorf("resetting %s: %d, want 404", id, a.status)
		}
	}
	if a := olgaV.get("/chats/"); a.status != http.StatusOK {
		t.Fatalf("olga before removal: %d", a.status)
	}
	a = owner.post("/settings/team/"+itoa(olga.ID)+"/remove", url.Values{})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/team?removed=1" {
		t.Fatalf("remove: %d %s", a.status, a.header.Get("Location"))
	}
	if a := owner.get("/settings/team?removed=1"); strings.Contains(a.body, "olga@acme.example") || !strings.Contains(a.body, `id="removed"`) {
		t.Errorf("team page after removal still lists olga, or says nothing")
	}
	if a := olgaV.get("/chats/"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/signin") {
		t.Errorf("olga's next page after removal: %d %s, want sign-in", a.status, a.header.Get("Location"))
	}
	if a := h.visitor().signIn("olga@acme.example", password); a.status != http.StatusUnauthorized {
		t.Errorf("a removed teammate signs in: %d, want 401", a.status)
	}
}

// A reset link sets a new password once, signs its holder in and the
// user out everywhere else; until used the old password still works; it
// lasts an hour.
func TestTeamResetLinkSetsThePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, "")
	olga, olgaV := h.teammate("olga@acme.example", "Olga")
	owner := h.signedIn("acme")
	owner.get("/settings/team")
	stale := teamLink(t, owner.post("/settings/team/"+itoa(olga.ID)+"/reset", url.Values{}))
	a := owner.post("/settings/team/"+itoa(olga.ID)+"/reset", url.Values{})
	link := teamLink(t, a)
	if !strings.Contains(a.body, "Password reset link for") || !strings.Contains(a.body, "olga@acme.example") {
		t.Errorf("reset answer does not say whose link it is:\n%s", a.body)
	}
	if a := h.visitor().get(stale); a.status != http.StatusGone {
		t.Errorf("the older reset link: %d, want 410 (replaced)", a.status)
	}
	if a := olgaV.get("/chats/"); a.status != http.StatusOK {
		t.Errorf("olga's session before the link is used: %d", a.status)
	}
	holder := h.visitor()
	if a := holder.get(link); a.status != http.StatusOK || !strings.Contains(a.body, "Set a new password") || !strings.Contains(a.body, "olga@acme.example") {
		t.Fatalf("reset page: %d\n%s", a.status, a.body)
	}
	a = holder.post(link, url.Values{"name": {"Olga"}, "password": {"password"}, "password2": {"password"}})
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="password-error"`) {
		t.Errorf("a common password: %d, want 422 beside the password", a.status)
	}
	a = holder.post(link, url.Values{"name": {"Olga"}, "password": {"a brand new secret"}, "password2": {"a brand new secret"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/chats/" {
		t.Fatalf("reset: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	if a := holder.get("/chats/"); a.status != http.StatusOK {
		t.Errorf("the holder after the reset: %d, want signed in", a.status)
	}
	if a := olgaV.get("/chats/"); a.status != http.StatusSeeOther {
		t.Errorf("olga's old session after the reset: %d, want sent to sign-in", a.status)
	}
	if a := h.visitor().signIn("olga@acme.example", password); a.status != http.StatusUnauthorized {
		t.Errorf("the old password after the reset: %d, want 401", a.status)
	}
	if a := h.visitor().signIn("olga@acme.example", "a brand new secret"); a.status != http.StatusSeeOther {
		t.Errorf("the new password: %d, want signed in", a.status)
	}
	if a := h.visitor().get(link); a.status != http.StatusGone {
		t.Errorf("a used reset link: %d, want 410", a.status)
	}
	late := teamLink(t, owner.post("/settings/team/"+itoa(olga.ID)+"/reset", url.Values{}))
	h.advance(chathook.ResetLifetime + time.Second)
	if a := h.visitor().get(late); a.status != http.StatusGone {
		t.Errorf("a reset link after an hour: %d, want 410", a.status)
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// With mail set up the link shown is also queued in the outbox, to the
// teammate; without it nothing is queued (the outbox would only log it).
func TestTeamLinksAreEmailedWhenMailIsSetUp(t *testing.T) {
	t.Parallel()
	for _, mail := range []bool{false, true} {
		h := newHarnessWith(t, false, "https://chathook.example.com", func(c *web.Config) { c.Mail = mail })
		owner := h.signedIn("acme")
		owner.get("/settings/team")
		a := owner.post("/settings/team/invite", url.Values{"email": {"olga@acme.example"}})
		link := shownLink.FindStringSubmatch(a.body)
		if link == nil || !strings.HasPrefix(link[1], "https://chathook.example.com/invite/") {
			t.Fatalf("mail %v: link %v, want one on the base URL", mail, link)
		}
		due, err := h.st.DueEmails(context.Background(), h.clock(), 10)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !mail && len(due) != 0:
			t.Errorf("without mail: %d emails queued, want none", len(due))
		case mail && (len(due) != 1 || due[0].To != "olga@acme.example" || due[0].Reason != link[1] || due[0].Kind != "team_invite" ||
			!strings.Contains(a.body, "also emailed")):
			t.Errorf("with mail: queued %+v, want the invitation of olga with the link shown", due)
		}
	}
}
