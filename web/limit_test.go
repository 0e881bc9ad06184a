package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathook/chathook/app"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/web"
)

// signInHeader signs in with extra request headers (name, value, ...).
func (v *visitor) signInHeader(email, pw string, header ...string) answer {
	v.t.Helper()
	v.get("/signin")
	return v.post("/signin", url.Values{"email": {email}, "password": {pw}}, header...)
}

// Someone guessing the owner's password from one address locks out that
// address only: the owner, from theirs, signs in.
func TestFailuresFromOneAddressDoNotLockOutTheOwnerElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	attacker := h.visitorFrom("127.0.0.2")
	for i := range 5 {
		if a := attacker.signIn("owner@acme.example", fmt.Sprintf("guess %d", i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, a.status)
		}
	}
	if a := attacker.signIn("owner@acme.example", password); a.status != http.StatusTooManyRequests ||
		!strings.Contains(a.body, "Too many failed sign-ins for this email") {
		t.Fatalf("the attacker's address after 5 failures: %d, want 429", a.status)
	}
	if a := h.visitorFrom("127.0.0.3").signIn("Owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("the owner from another address: %d, want 303 (signed in): %s", a.status, a.body)
	}
}

// One address trying many emails, a few guesses each, is stopped after
// 20 failures in all, whichever email comes next; other addresses are not.
func TestOneAddressSprayingEmailsIsLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, "")
	sprayer := h.visitorFrom("127.0.0.4")
	for i := range 20 {
		if a := sprayer.signIn(fmt.Sprintf("user%d@acme.example", i), "password guess"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, a.status)
		}
	}
	a := sprayer.signIn("owner@acme.example", password)
	if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, "from your network") || !strings.Contains(a.body, "15 minutes") {
		t.Fatalf("the 21st sign-in from one address: %d %s", a.status, a.body)
	}
	if a := h.visitorFrom("127.0.0.5").signIn("owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("the owner from another address: %d", a.status)
	}
	h.advance(15 * time.Minute)
	if a := sprayer.signIn("owner@acme.example", password); a.status != http.StatusSeeOther {
		t.Errorf("after the window: %d", a.status)
	}
}

// Failures past the bound of rows kept evict the oldest: new failures are
// still counted, so a flood of junk emails cannot switch limiting off,
// and the table stays within its bound.
func TestJunkEmailsPastTheBoundDoNotTurnLimitingOff(t *testing.T) {
	t.Parallel()
	const keep = 10 // rows; a failure writes two
	h := newHarness(t, true, "")
	web.SetSignInKept(h.web, keep)
	for _, ip := range []string{"127.0.0.6", "127.0.0.7"} {
		v := h.visitorFrom(ip)
		for i := range 8 {
			if a := v.signIn(fmt.Sprintf("junk%d-%s@nowhere.example", i, ip), "junk"); a.status != http.StatusUnauthorized {
				t.Fatalf("junk %d from %s: %d", i, ip, a.status)
			}
		}
	}
	attacker := h.visitorFrom("127.0.0.8")
	for i := range 5 {
		if a := attacker.signIn("owner@acme.example", fmt.Sprintf("guess %d", i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, a.status)
		}
	}
	if a := attacker.signIn("owner@acme.example", password); a.status != http.StatusTooManyRequests {
		t.Errorf("after 32 junk failures (bound %d rows), 5 guesses: %d, want 429", keep, a.status)
	}
	db, err := sql.Open("sqlite", h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sign_in_failures`).Scan(&n); err != nil || n > keep {
		t.Errorf("%d rows kept (%v), bound %d", n, err, keep)
	}
}

// Behind a trusted proxy the client is the address it forwarded for;
// from any other peer X-Forwarded-For is ignored, so a client cannot
// escape its count by making one up.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, true, "")
		v := h.visitorFrom("127.0.0.9")
		for i := range 5 {
			v.signInHeader("owner@acme.example", "wrong", "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		}
		if a := v.signInHeader("owner@acme.example", password, "X-Forwarded-For", "203.0.113.99"); a.status != http.StatusTooManyRequests {
			t.Errorf("a made-up X-Forwarded-For escaped the count: %d", a.status)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		h := newHarnessWith(t, true, "", func(c *web.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		proxy := h.visitor() // from 127.0.0.1
		for range 5 {
			// The client put a made-up address first; the proxy appended the real one.
			proxy.signInHeader("owner@acme.example", "wrong", "X-Forwarded-For", "198.51.100.1, 203.0.113.7")
		}
		if a := proxy.signInHeader("owner@acme.example", password, "X-Forwarded-For", "203.0.113.7"); a.status != http.StatusTooManyRequests {
			t.Errorf("the forwarded client after 5 failures: %d, want 429", a.status)
		}
		if a := h.visitor().signInHeader("owner@acme.example", password, "X-Forwarded-For", "198.51.100.1"); a.status != http.StatusSeeOther {
			t.Errorf("another client through the same proxy: %d, want 303", a.status)
		}
	})
}

// Two instances on one PostgreSQL database count failures together: a
// guesser gains nothing by spreading guesses over them.
func TestInstancesOnOnePostgreSQLShareFailures(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := context.Background()
	var bases []string
	for range 2 {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s, err := web.New(web.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
		if len(bases) == 1 {
			c, err := app.CreateWorkspace(ctx, st, "acme", "owner@acme.example", "Owner")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := app.AddUser(ctx, st, c.WorkspaceID, "owner@acme.example", "Owner", password); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := &harness{t: t}
	for i := range 5 {
		h.base = bases[i%2]
		if a := h.visitor().signIn("owner@acme.example", "wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d on instance %d: %d", i+1, i%2, a.status)
		}
	}
	for i, base := range bases {
		h.base = base
		if a := h.visitor().signIn("owner@acme.example", password); a.status != http.StatusTooManyRequests {
			t.Errorf("instance %d after 5 failures split 3 and 2: %d, want 429", i, a.status)
		}
	}
}
