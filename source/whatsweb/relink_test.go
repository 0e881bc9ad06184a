package whatsweb_test

import (
	"context"
	"testing"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
)

// Linking the same phone again through the instance that holds its
// device logs the former device out on WhatsApp and deletes its keys;
// the new device stays connected.
func TestRelinkLogsFormerDeviceOut(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		m := e.manager(t, "a")
		acc, old := e.pair(t, m, e.net, danaJID, "Dana Owner")
		const again = "972500000001:8@s.whatsapp.net"
		relinked, fresh := e.pair(t, m, e.net, again, "Dana Owner")
		if relinked.ID != acc.ID {
			t.Fatalf("linked again as account %d, was %d", relinked.ID, acc.ID)
		}
		chathooktest.Eventually(t, "the former device logged out", func() bool { return old.Logouts() == 1 })
		chathooktest.Eventually(t, "the former device's keys deleted", func() bool { return !e.session(t, danaJID) })
		if old.Connected() || !fresh.Connected() || !e.session(t, again) {
			t.Errorf("former connected %v, new connected %v, new keys kept %v", old.Connected(), fresh.Connected(), e.session(t, again))
		}
		if a := e.waitState(t, acc.ID, chathook.AccountConnected); a.JID != again {
			t.Errorf("account's device %s", a.JID)
		}
		e.net.NoOverlap(t)
	})
}

// Linking the same phone again through another instance deletes the
// former device's keys; its holder drops the connection at its next
// claim.
func TestRelinkElsewhereDeletesFormerKeys(t *testing.T) {
	ctx := context.Background()
	open := sqliteOpener(t)
	e := newEnv(t, open)
	a := e.manager(t, "a")
	_, old := e.pair(t, a, e.net, danaJID, "Dana Owner")
	netB := e.net.Sibling()
	b := e.managerOn(t, open(t), netB, "b", 0, e.clock.Now)
	const again = "972500000001:8@s.whatsapp.net"
	e.pair(t, b, netB, again, "Dana Owner")
	chathooktest.Eventually(t, "the former device's keys deleted", func() bool { return !e.session(t, danaJID) })
	if !e.session(t, again) {
		t.Error("the new device's keys are gone")
	}
	a.Claim(ctx)
	if old.Connected() {
		t.Error("the former holder kept its connection")
	}
}
