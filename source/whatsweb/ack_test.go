package whatsweb_test

import (
	"context"
	"testing"

	"github.com/chathook/chathook/chathooktest"
	"go.mau.fi/whatsmeow/types/events"
)

// messageCount is how many messages of the workspace carry id.
func (e *env) messageCount(t *testing.T, id string) int {
	t.Helper()
	db, _ := e.st.SessionDB()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM messages WHERE workspace_id = $1 AND message_id = $2`,
		e.ws.ID, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A message whatsmeow hands over while the Manager stops (it read it
// before the Disconnect) is not acknowledged: WhatsApp sends it again to
// the device's next connection, on another instance sharing the
// database, which stores it, once. A message stored before is
// acknowledged and never comes again.
func TestMessageAtStopRedelivered(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		a := e.manager(t, "a")
		acc, fc := e.pair(t, a, e.net, danaJID, "Dana Owner")
		if !fc.Deliver(live(t, bobJID, bobJID, "L1", t0, txt("before"))) {
			t.Fatal("a stored message was not acknowledged")
		}

		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		late := live(t, bobJID, bobJID, "L2", t0.Add(1), txt("in the window"))
		if fc.Deliver(late) {
			t.Fatal("a message handed over after Close was acknowledged without being stored")
		}
		if n := len(e.net.Unacked(danaJID)); n != 1 {
			t.Fatalf("%d events unacknowledged, want 1", n)
		}

		netB := e.net.Sibling()
		b := e.managerOn(t, open(t), netB, "b", 0, e.clock.Now)
		b.Claim(ctx)
		netB.Online(t, danaJID)
		e.waitState(t, acc.ID, "connected")
		chathooktest.Eventually(t, "the message stored after redelivery", func() bool { return e.messageCount(t, "L2") == 1 })
		chathooktest.Eventually(t, "the redelivery acknowledged", func() bool { return len(e.net.Unacked(danaJID)) == 0 })
		if n := e.messageCount(t, "L1"); n != 1 {
			t.Errorf("the first message stored %d times", n)
		}
		if n := e.messageCount(t, "L2"); n != 1 {
			t.Errorf("the redelivered message stored %d times", n)
		}
		e.net.NoOverlap(t)
	})
}

// A message handed over after the connection was dropped for a lease
// that could not be renewed is not acknowledged; the instance connects
// the device again once the database is back, and stores it then.
func TestMessageAfterLeaseLostRedelivered(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	st := &failingStore{Store: e.st}
	m := e.managerOn(t, st, e.net, "a", 60e9, e.clock.Now)
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

	st.fail.Store(true)
	e.clock.Add(41e9) // less than a renewal period of the lease left
	m.Claim(ctx)
	if fc.Connected() {
		t.Fatal("still connected though its lease runs out")
	}
	if fc.Deliver(live(t, bobJID, bobJID, "L1", t0, txt("in the window"))) {
		t.Fatal("a message handed over after the lease was lost was acknowledged")
	}

	st.fail.Store(false)
	m.Claim(ctx)
	if c := e.net.Online(t, danaJID); c == fc {
		t.Fatal("reused the dropped client")
	}
	chathooktest.Eventually(t, "the redelivery acknowledged", func() bool { return len(e.net.Unacked(danaJID)) == 0 })
	if n := e.messageCount(t, "L1"); n != 1 {
		t.Errorf("the redelivered message stored %d times", n)
	}
}

// A receipt handed over after the connection closed is not acknowledged
// either: what it tells is stored by the next connection.
func TestReceiptAtStopNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	a := e.manager(t, "a")
	_, fc := e.pair(t, a, e.net, danaJID, "Dana Owner")
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fc.Deliver(&events.Receipt{MessageIDs: []string{"R1"}}) {
		t.Fatal("a receipt handed over after Close was acknowledged")
	}
}
