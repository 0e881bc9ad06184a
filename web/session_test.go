package web_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook"
	_ "modernc.org/sqlite"
)

func cookie(a answer, name string) *http.Cookie {
	for _, line := range a.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

// A sign-in sets an HttpOnly, SameSite cookie whose token is stored only
// as a hash, and leads to the page asked for.
func TestSignInSetsACookieWhoseTokenIsStoredHashed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "http://chathook.test")
	v := h.visitor()
	if a := v.get("/chats/"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?next=%2Fchats%2F" {
		t.Fatalf("signed out: %d %s", a.status, a.header.Get("Location"))
	}
	v.get("/signin?next=%2Fsettings%2Fwebhooks%2Foutbound")
	a := v.post("/signin", url.Values{"email": {" OWNER@acme.example "}, "password": {password}, "next": {"/settings/webhooks/outbound"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/settings/webhooks/outbound" {
		t.Fatalf("sign in: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
	}
	c := cookie(a, "chathook_session")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || c.MaxAge < 3600 {
		t.Fatalf("session cookie %+v", c)
	}
	if a := v.get("/settings/webhooks/outbound"); a.status != http.StatusOK || !strings.Contains(a.body, "owner@acme.example") {
		t.Fatalf("signed in: %d", a.status)
	}

	db, err := sql.Open("sqlite", h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored []byte
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT token_hash, (SELECT count(*) FROM sessions) FROM sessions`).Scan(&stored, &n); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(c.Value))
	if n != 1 || string(stored) != string(sum[:]) || strings.Contains(string(stored), c.Value) {
		t.Errorf("sessions hold %d rows, %x: not the SHA-256 of the cookie alone", n, stored)
	}
}

// Behind https the cookies are Secure and __Host- prefixed.
func TestCookiesAreSecureUnderHTTPS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "https://chathook.example.com")
	v := h.visitor()
	a := v.get("/signin")
	if c := cookie(a, "__Host-chathook_signin"); c == nil || !c.Secure || !c.HttpOnly {
		t.Fatalf("sign-in form cookie %+v; headers %v", c, a.header.Values("Set-Cookie"))
	}
	// The jar keeps Secure cookies off plain http, so send the token by hand.
	form := url.Values{"email": {"owner@acme.example"}, "password": {password}, "csrf": {v.csrf}}
	req, _ := http.NewRequest(http.MethodPost, h.base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Host-chathook_signin", Value: v.csrf})
	a = v.do(req)
	c := cookie(a, "__Host-chathook_session")
	if a.status != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("sign in over https: %d, cookie %+v", a.status, c)
	}
}

func TestWrongPasswordOrEmailIsRefusedAlike(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	for _, tc := range []struct{ email, pw string }{
		{"owner@acme.example", "wrong password"},
		{"nobody@acme.example", password},
		// Empty fields are said beside them (422), which tells nothing of
		// any account: see TestSignInEmptyFields.
		{strings.Repeat("a", 400) + "@acme.example", password},
	} {
		v := h.visitor()
		a := v.signIn(tc.email, tc.pw)
		if a.status != http.StatusUnauthorized || !strings.Contains(a.body, "Wrong email or password.") || cookie(a, "chathook_session") != nil {
			t.Errorf("%q/%q: %d, session cookie %v", tc.email, tc.pw, a.status, cookie(a, "chathook_session"))
		}
		if tc.email != "" && len(tc.email) < 320 && !strings.Contains(a.body, `value="`+tc.email+`"`) {
			t.Errorf("%q: the email typed is not kept in the form", tc.email)
		}
	}
}

// Five failures for one email refuse it, even with the right password,
// until the window has passed; other emails are not affected.
func TestRepeatedFailuresAreSlowedDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	h.workspace("beta")
	v := h.visitor()
	for i := range 5 {
		if a := v.signIn("owner@acme.example", "wrong password"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, a.status)
		}
	}
	a := v.signIn("Owner@Acme.example", password)
	if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, "Too many failed sign-ins") || !strings.Contains(a.body, "15 minutes") {
		t.Fatalf("the right password after 5 failures: %d %s", a.status, a.body)
	}
	if a := h.visitor().signIn("owner@beta.example", password); a.status != http.StatusSeeOther {
		t.Errorf("another email was held back too: %d", a.status)
	}
	h.advance(15 * time.Minute)
	if a := v.signIn("owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("after the window: %d", a.status)
	}
}

// Every POST needs the session's CSRF token, and a cross-site origin is
// refused whatever the token.
func TestPostsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	v.get("/settings/webhooks/outbound")
	good := v.csrf
	save := func(csrf string, header ...string) answer {
		return v.post("/settings/webhooks/outbound", url.Values{
			"csrf": {csrf}, "url": {"http://127.0.0.1:9/x"}, "granularity": {"6h"}, "enabled": {"on"},
		}, header...)
	}
	for name, a := range map[string]answer{
		"no token":            save(""),
		"another token":       save(strings.Repeat("A", len(good))),
		"cross-site fetch":    save(good, "Sec-Fetch-Site", "cross-site"),
		"another origin":      save(good, "Origin", "https://evil.example"),
		"sign out, no token":  v.post("/signout", url.Values{"csrf": {""}}),
		"test, another token": v.post("/settings/webhooks/outbound/test", url.Values{"csrf": {"x"}}),
	} {
		if a.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.status)
		}
	}
	if wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound); wh.URL != "" || wh.Granularity != "none" {
		t.Fatalf("a refused POST changed the webhook: %+v", wh)
	}
	if a := save(good, "Sec-Fetch-Site", "same-origin"); a.status != http.StatusSeeOther {
		t.Fatalf("with the token: %d %s", a.status, a.body)
	}
	if wh, _ := h.st.Webhook(context.Background(), h.ws.WorkspaceID, chathook.Outbound); wh.URL != "http://127.0.0.1:9/x" || wh.Granularity != "6h" {
		t.Errorf("saved %+v", wh)
	}

	// Sign-in has its own token, in a cookie and the form.
	other := h.visitor()
	if a := other.post("/signin", url.Values{"email": {"owner@acme.example"}, "password": {password}, "csrf": {"made-up"}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in without the form's cookie: %d", a.status)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.signedIn("acme")
	v.get("/chats/")
	kept := *v.c.Jar.(interface{ Cookies(*url.URL) []*http.Cookie }).Cookies(mustURL(h.base))[0]
	if a := v.post("/signout", url.Values{}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin" {
		t.Fatalf("sign out: %d", a.status)
	}
	if a := v.get("/chats/"); a.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", a.status)
	}
	// The old cookie, replayed, is worth nothing: its row is gone.
	req, _ := http.NewRequest(http.MethodGet, h.base+"/chats/", nil)
	req.AddCookie(&kept)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a replayed cookie after sign-out: %d", resp.StatusCode)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// ?next= leads only to paths of this site: after signing in, and when a
// signed-in visitor opens the sign-in page.
func TestSignInNeverRedirectsOffSite(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	v := h.visitor()
	v.get("/signin")
	a := v.post("/signin", url.Values{"email": {"owner@acme.example"}, "password": {password}, "next": {"//evil.example/x"}})
	if got := a.header.Get("Location"); a.status != http.StatusSeeOther || got != "/chats/" {
		t.Errorf("sign in with next=//evil.example/x: %d to %q", a.status, got)
	}
	for next, want := range map[string]string{
		"//evil.example/x":       "/chats/",
		"https://evil.example/":  "/chats/",
		`/\evil.example`:         "/chats/",
		"javascript:alert(1)":    "/chats/",
		"":                       "/chats/",
		"/chat/1/messages/?at=x": "/chat/1/messages/?at=x",
	} {
		a := v.get("/signin?next=" + url.QueryEscape(next))
		if got := a.header.Get("Location"); a.status != http.StatusSeeOther || got != want {
			t.Errorf("next=%q: %d to %q, want %q", next, a.status, got, want)
		}
	}
}
