package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook/web"
)

// With every password check taken, a sign-in waits briefly and is then
// refused with 429 and Retry-After, for an unknown email exactly as for a
// known one (the refusal tells nothing about which emails exist); once
// the check is done, sign-ins go through again. The refusal counts as no
// failed sign-in.
func TestSignInsBeyondThePasswordChecksWaitThenAre429(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	var first, released sync.Once
	free := func() { released.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test must not leave the held sign-in hanging
	// One check at a time; the first is held until release. The short wait
	// is safe: nothing frees the held check until the test says so.
	web.SetPasswordChecks(h.web, 1, 50*time.Millisecond, func() {
		entered <- struct{}{}
		first.Do(func() { <-release })
	})

	held := make(chan answer, 1)
	owner := h.visitorFrom("127.0.0.2")
	owner.get("/signin")
	go func() {
		// Not v.post: t.Fatal must not run outside the test's goroutine.
		form := url.Values{"email": {"owner@acme.example"}, "password": {password}, "csrf": {owner.csrf}}
		req, _ := http.NewRequest(http.MethodPost, h.base+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := owner.c.Do(req)
		if err != nil {
			held <- answer{status: -1, body: err.Error()}
			return
		}
		resp.Body.Close()
		held <- answer{status: resp.StatusCode}
	}()
	select { // the owner's check holds the only slot
	case <-entered:
	case a := <-held:
		t.Fatalf("the owner's sign-in was answered %d without taking a password check", a.status)
	}

	for i, try := range []struct{ from, email, pw string }{
		{"127.0.0.3", "nobody@acme.example", "some guess"}, // unknown email
		{"127.0.0.4", "owner@acme.example", "wrong guess"}, // known email, wrong password
		{"127.0.0.5", "owner@acme.example", password},      // known email, right password
	} {
		a := h.visitorFrom(try.from).signIn(try.email, try.pw)
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "5" ||
			!strings.Contains(a.body, "Too many sign-ins at once. Try again in a few seconds.") ||
			!strings.Contains(a.body, `id="signin-error"`) {
			t.Fatalf("sign-in %d while the only check is held: %d Retry-After %q\n%s", i+1, a.status, a.header.Get("Retry-After"), a.body)
		}
	}

	free()
	if a := <-held; a.status != http.StatusSeeOther {
		t.Fatalf("the held sign-in: %d %s, want 303", a.status, a.body)
	}
	if a := h.visitorFrom("127.0.0.3").signIn("nobody@acme.example", "some guess"); a.status != http.StatusUnauthorized {
		t.Errorf("an unknown email after the check freed: %d, want 401", a.status)
	}
	// 5 refusals for load would have locked this email out from this address.
	for range 4 {
		if a := h.visitorFrom("127.0.0.4").signIn("owner@acme.example", "wrong guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("a wrong password after the check freed: %d, want 401", a.status)
		}
	}
	if a := h.visitorFrom("127.0.0.4").signIn("owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("the owner after the check freed: %d, want 303", a.status)
	}
}

// First-run setup hashes its owner's password within the same bound:
// while a sign-in holds the only check, setup is answered 429 beside the
// password, creates nothing, and goes through once the check is done.
func TestSetupSharesThePasswordChecks(t *testing.T) {
	t.Parallel()
	h, code := emptyHarness(t)
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	var first, released sync.Once
	free := func() { released.Do(func() { close(release) }) }
	t.Cleanup(free)
	web.SetPasswordChecks(h.web, 1, 50*time.Millisecond, func() {
		entered <- struct{}{}
		first.Do(func() { <-release })
	})
	signIn := h.visitor()
	signIn.get("/signin")
	done := make(chan int, 1)
	go func() {
		form := url.Values{"email": {"nobody@acme.example"}, "password": {"some guess"}, "csrf": {signIn.csrf}}
		resp, err := signIn.c.PostForm(h.base+"/signin", form)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-entered:
	case status := <-done:
		t.Fatalf("the sign-in was answered %d without taking a password check", status)
	}
	v := h.visitor()
	a := v.post("/setup", setupForm(code, "Acme", "olga@acme.example", "correct horse battery"))
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "5" ||
		!strings.Contains(a.body, `id="password-error">Too many sign-ins at once. Try again in a few seconds.`) {
		t.Fatalf("setup while the only check is held: %d Retry-After %q\n%s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if n := h.workspaceCount(); n != 0 {
		t.Fatalf("%d workspaces after a refused setup", n)
	}
	free()
	if status := <-done; status != http.StatusUnauthorized {
		t.Fatalf("the held sign-in: %d, want 401", status)
	}
	if a := v.post("/setup", setupForm(code, "Acme", "olga@acme.example", "correct horse battery")); a.status != http.StatusSeeOther {
		t.Fatalf("setup after the check freed: %d\n%s", a.status, a.body)
	}
}
