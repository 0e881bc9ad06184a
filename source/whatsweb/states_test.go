package whatsweb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/store"
	"go.mau.fi/whatsmeow/types/events"
)

// logoutEmails counts the account_logged_out emails due.
func (e *env) logoutEmails(t *testing.T) int {
	t.Helper()
	emails, err := e.st.DueEmails(context.Background(), e.clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range emails {
		if m.Kind == "account_logged_out" {
			n++
		}
	}
	return n
}

// Removed on the phone: the account shows it, its connection is dropped
// and its lease released, its messages stop, and the owner gets exactly
// one email.
func TestLoggedOut(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		fc.Emit(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
		e.waitState(t, acc.ID, chathook.AccountLoggedOut)
		if fc.Connected() {
			t.Error("still connected after LoggedOut")
		}
		// Whatever whatsmeow emits after, once, twice: one email.
		fc.Emit(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
		fc.Emit(live(t, bobJID, bobJID, "X1", t0, txt("lost")))
		if n := e.logoutEmails(t); n != 1 {
			t.Errorf("%d logout emails, want 1", n)
		}
		chats, _ := e.st.Chats(ctx, e.ws.ID, store.ChatQuery{Limit: 10})
		if len(chats) != 0 {
			t.Errorf("a message after the logout was stored: %+v", chats)
		}
		// Released, and not wanted: no instance claims it, this one makes
		// no new connection.
		if got, err := e.st.ClaimAccounts(ctx, "b", e.clock.Now(), e.clock.Now().Add(time.Minute), 10); err != nil || len(got) != 0 {
			t.Errorf("claimable after logout: %+v, %v", got, err)
		}
		m.Claim(ctx)
		if n := len(e.net.Clients()); n != 1 {
			t.Errorf("%d clients after a claim; a logged-out account is not reconnected", n)
		}
		if err := m.Reconnect(ctx, e.ws.ID, acc.ID); !errors.Is(err, whatsweb.ErrNeedsPairing) {
			t.Errorf("Reconnect of a logged-out account: %v", err)
		}
	})
}

// Replaced by another client: shown, not fought over (no reconnection),
// until a teammate asks for it again with Reconnect.
func TestStreamReplaced(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		fc.Emit(&events.StreamReplaced{})
		e.waitState(t, acc.ID, chathook.AccountReplaced)
		if fc.Connected() {
			t.Error("still connected after StreamReplaced")
		}
		m.Claim(ctx)
		m.Claim(ctx)
		if n := len(e.net.Clients()); n != 1 {
			t.Fatalf("%d clients: the replaced account was connected again", n)
		}
		if n := e.logoutEmails(t); n != 0 {
			t.Errorf("%d emails for a replaced stream", n)
		}

		if err := m.Reconnect(ctx, e.ws.ID, acc.ID); err != nil {
			t.Fatal(err)
		}
		m.Claim(ctx)
		again := e.net.Online(t, danaJID)
		if again == fc {
			t.Fatal("the old client was reused")
		}
		e.waitState(t, acc.ID, chathook.AccountConnected)
	})
}

// Disconnect logs the device out on the phone through the instance that
// holds it, deletes its session, and records it disconnected; another
// workspace cannot touch it.
func TestDisconnect(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		acc, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

		other := newEnvOn(t, e.st)
		if err := m.Disconnect(ctx, other.ws.ID, acc.ID); !errors.Is(err, chathook.ErrNotFound) {
			t.Errorf("Disconnect from another workspace: %v", err)
		}
		if err := m.Disconnect(ctx, e.ws.ID, acc.ID); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.st.Account(ctx, e.ws.ID, acc.ID); a.State != chathook.AccountDisconnecting && a.State != chathook.AccountDisconnected {
			t.Fatalf("state after Disconnect: %s", a.State)
		}
		m.Claim(ctx)
		e.waitState(t, acc.ID, chathook.AccountDisconnected)
		if logouts := fc.Logouts(); logouts != 1 || fc.Connected() {
			t.Errorf("%d logouts, online %v", fc.Logouts(), fc.Connected())
		}
		if e.session(t, danaJID) {
			t.Error("the session is still in the database")
		}
		if n := e.logoutEmails(t); n != 0 {
			t.Errorf("%d logout emails for a Disconnect from chathook", n)
		}
		if err := m.Reconnect(ctx, e.ws.ID, acc.ID); !errors.Is(err, whatsweb.ErrNeedsPairing) {
			t.Errorf("Reconnect of a disconnected account: %v", err)
		}
	})
}

// Sessions persist: after an instance stops, another (a restart) finds
// the account's device in the database and connects it again.
func TestRestartReconnects(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		first := e.manager(t, "a")
		acc, fc := e.pair(t, first, e.net, danaJID, "Dana Owner")
		if err := first.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if fc.Connected() {
			t.Fatal("still connected after Close")
		}

		st := open(t) // the restarted instance's own handle
		net := e.net.Sibling()
		second := e.managerOn(t, st, net, "b", 0, e.clock.Now)
		second.Claim(ctx)
		c := net.Online(t, danaJID)
		if c.Device().PushName != "Dana Owner" {
			t.Errorf("device loaded with push name %q", c.Device().PushName)
		}
		e.waitState(t, acc.ID, chathook.AccountConnected)

		// A network drop: whatsmeow says Disconnected, then reconnects.
		c.Emit(&events.Disconnected{})
		e.waitState(t, acc.ID, chathook.AccountConnecting)
		c.Emit(&events.Connected{})
		e.waitState(t, acc.ID, chathook.AccountConnected)
		e.net.NoOverlap(t)
	})
}

// WhatsApp out of reach at start: the account shows connecting, and the
// connection is tried again after a backoff, not at every claim.
func TestConnectRetried(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	first := e.manager(t, "a")
	acc, _ := e.pair(t, first, e.net, danaJID, "Dana Owner")
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}

	net := e.net.Sibling()
	net.SetUnreachable(true)
	m := e.managerOn(t, e.st, net, "b", 0, e.clock.Now)
	m.Claim(ctx)
	e.waitState(t, acc.ID, chathook.AccountConnecting)
	chathooktest.Eventually(t, "the failed client", func() bool { return len(net.Clients()) == 1 })
	m.Claim(ctx)
	if n := len(net.Clients()); n != 1 {
		t.Fatalf("%d connection attempts at once; the second must wait", n)
	}
	net.SetUnreachable(false)
	e.clock.Add(5 * time.Second)
	m.Claim(ctx)
	net.Online(t, danaJID)
	e.waitState(t, acc.ID, chathook.AccountConnected)
}
