package whatsweb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/event"
	"github.com/chathook/chathook/source/whatsweb"
	"go.mau.fi/whatsmeow/types/events"
)

// emails counts the emails of kind due.
func (e *env) emails(t *testing.T, kind string) int {
	t.Helper()
	due, err := e.st.DueEmails(context.Background(), e.clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range due {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// lostEndpoint is an endpoint of the env's workspace that takes
// whatsapp:account:disconnected alone.
func (e *env) lostEndpoint(t *testing.T) chathook.Webhook {
	t.Helper()
	ep, err := e.st.CreateWebhook(context.Background(), e.ws.ID, chathook.Webhook{ID: "ep_0123456789abcdef", URL: "http://127.0.0.1:9/lost",
		Events: []string{event.AccountLost}, Format: event.Envelope, Granularity: chathook.NoAggregation,
		Accounts: []int64{}, Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// A temporary ban rests the account until WhatsApp's ban ends: shown
// banned with its end, dropped, its lease released, one email, the
// disconnected event queued, and no connection by any instance before
// the end (hammering gets a number banned for good); Reconnect refuses
// before then. Once it has ended, a claim connects it again.
func TestTemporaryBan(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		ep := e.lostEndpoint(t)
		m := e.manager(t, "a")
		other := e.net.Sibling()
		second := e.managerOn(t, open(t), other, "b", 0, e.clock.Now)
		acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		until := e.clock.Now().Add(time.Hour)
		fc.Emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
		a := e.waitState(t, acc.ID, chathook.AccountBanned)
		if !a.StateUntil.Equal(until) {
			t.Errorf("banned until %v, want %v", a.StateUntil, until)
		}
		if fc.Connected() {
			t.Error("still connected after TemporaryBan")
		}
		for _, wait := range []time.Duration{0, 30 * time.Minute, 29*time.Minute + 59*time.Second} {
			e.clock.Add(wait)
			m.Claim(ctx)
			second.Claim(ctx)
			if n, n2 := len(e.net.Clients()), len(other.Clients()); n != 1 || n2 != 0 {
				t.Fatalf("%v before the ban ends: %d and %d clients, want only the banned one", until.Sub(e.clock.Now()), n, n2)
			}
		}
		var banned *whatsweb.BannedError
		if err := m.Reconnect(ctx, e.ws.ID, acc.ID); !errors.As(err, &banned) || !banned.Until.Equal(until) {
			t.Errorf("Reconnect during the ban: %v", err)
		}
		if n := e.emails(t, "account_banned"); n != 1 {
			t.Errorf("%d account_banned emails, want 1", n)
		}
		if n, err := e.st.Pending(ctx, e.ws.ID, ep.ID); err != nil || n != 1 {
			t.Errorf("%d disconnected events waiting (%v), want 1", n, err)
		}

		e.clock.Add(time.Second) // the ban's end
		m.Claim(ctx)
		again := e.net.Online(t, danaJID)
		if again == fc {
			t.Fatal("the banned client was reused")
		}
		e.waitState(t, acc.ID, chathook.AccountConnected)
		e.net.NoOverlap(t)
	})
}

// A ban that does not say when it ends rests the account
// UnknownBanWait.
func TestTemporaryBanWithoutEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	m := e.manager(t, "a")
	acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	fc.Emit(&events.TemporaryBan{Code: events.TempBanBlockedByUsers})
	a := e.waitState(t, acc.ID, chathook.AccountBanned)
	if want := e.clock.Now().Add(whatsweb.UnknownBanWait); !a.StateUntil.Equal(want) {
		t.Errorf("banned until %v, want %v", a.StateUntil, want)
	}
	e.clock.Add(whatsweb.UnknownBanWait - time.Second)
	m.Claim(ctx)
	if n := len(e.net.Clients()); n != 1 {
		t.Fatalf("%d clients before the ban's end", n)
	}
}

// WhatsApp refusing the client as outdated rests the account: shown
// outdated, dropped, one email, never connected again by itself (every
// try would be refused) until a teammate presses Reconnect.
func TestClientOutdated(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		fc.Emit(&events.ClientOutdated{})
		e.waitState(t, acc.ID, chathook.AccountOutdated)
		if fc.Connected() {
			t.Error("still connected after ClientOutdated")
		}
		e.clock.Add(time.Hour)
		m.Claim(ctx)
		m.Claim(ctx)
		if n := len(e.net.Clients()); n != 1 {
			t.Fatalf("%d clients: the outdated account was connected again by itself", n)
		}
		if n := e.emails(t, "account_outdated"); n != 1 {
			t.Errorf("%d account_outdated emails, want 1", n)
		}

		if err := m.Reconnect(ctx, e.ws.ID, acc.ID); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.st.Account(ctx, e.ws.ID, acc.ID); a.State != chathook.AccountConnecting {
			t.Errorf("state after Reconnect: %s, want connecting", a.State)
		}
		m.Claim(ctx)
		if again := e.net.Online(t, danaJID); again == fc {
			t.Fatal("the old client was reused")
		}
		e.waitState(t, acc.ID, chathook.AccountConnected)
	})
}

// Disconnect of a banned account never connects it (to log it out would
// be to connect during the ban): its session is deleted here and it is
// recorded disconnected at once.
func TestDisconnectBanned(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	m := e.manager(t, "a")
	acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")
	fc.Emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
	e.waitState(t, acc.ID, chathook.AccountBanned)

	if err := m.Disconnect(ctx, e.ws.ID, acc.ID); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.st.Account(ctx, e.ws.ID, acc.ID); a.State != chathook.AccountDisconnected {
		t.Fatalf("state after Disconnect: %s, want disconnected", a.State)
	}
	m.Claim(ctx)
	if n := len(e.net.Clients()); n != 1 || fc.Logouts() != 0 {
		t.Errorf("%d clients, %d logouts: the banned account was connected to be logged out", n, fc.Logouts())
	}
	if e.session(t, danaJID) {
		t.Error("the session is still in the database")
	}
}
