package whatsweb_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/ingest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
)

// recorder keeps every pairing OnUpdate reports.
type recorder struct {
	mu  sync.Mutex
	got []chathook.Pairing
}

func (r *recorder) update(p chathook.Pairing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
}

func (r *recorder) qrs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var qrs []string
	for _, p := range r.got {
		if p.QR != "" && (len(qrs) == 0 || qrs[len(qrs)-1] != p.QR) {
			qrs = append(qrs, p.QR)
		}
	}
	return qrs
}

func (r *recorder) last() chathook.Pairing {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

// Pairing by QR code: the codes rotate as whatsmeow's QR channel times
// them (60 s, then 20 s), every step is saved for any instance to show,
// and the phone's answer links the account, leased to this instance,
// connected, its session in the database.
func TestPairByQR(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		whatsweb.SetQRPoll(m, 5*time.Millisecond)
		rec := &recorder{}
		p, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com", OnUpdate: rec.update})
		if err != nil {
			t.Fatal(err)
		}
		fc := e.net.Unpaired(t)
		qr := fc.QRCodes()
		if len(qr) != whatswebtest.QRCount {
			t.Fatalf("the device got %d QR codes", len(qr))
		}
		if p.ID == "" || p.QR != qr[0] || p.Code != "" || p.State != chathook.PairingWaiting || p.Email != "dana@example.com" {
			t.Fatalf("Pair returned %+v", p)
		}
		stored := func() chathook.Pairing {
			got, err := e.st.Pairing(ctx, e.ws.ID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := stored(); got.QR != qr[0] || got.State != chathook.PairingWaiting {
			t.Fatalf("stored pairing %+v", got)
		}

		// The first code lasts a minute, the next ones 20 s each.
		e.clock.Add(59 * time.Second)
		m.RotateQR()
		if got := stored(); got.QR != qr[0] {
			t.Fatalf("after 59 s the QR code is %q", got.QR)
		}
		e.clock.Add(time.Second)
		chathooktest.Eventually(t, "the second QR code", func() bool { return stored().QR == qr[1] })
		e.clock.Add(19 * time.Second)
		m.RotateQR()
		if got := stored(); got.QR != qr[1] {
			t.Fatalf("19 s after the second code, the QR code is %q", got.QR)
		}
		e.clock.Add(time.Second)
		chathooktest.Eventually(t, "the third QR code", func() bool { return stored().QR == qr[2] })

		fc.Pair(t, "972500000001:7@s.whatsapp.net", "Dana Owner")
		got := stored()
		if got.State != chathook.PairingPaired || got.AccountID == 0 || got.QR != "" || got.Err != "" {
			t.Fatalf("pairing after PairSuccess: %+v", got)
		}
		if qrs := rec.qrs(); !slices.Equal(qrs, qr[:3]) || rec.last().State != chathook.PairingPaired {
			t.Errorf("OnUpdate saw QR codes %v, last %+v", qrs, rec.last())
		}

		accs, err := e.st.Accounts(ctx, e.ws.ID)
		if err != nil || len(accs) != 1 {
			t.Fatalf("accounts %+v, %v", accs, err)
		}
		a := accs[0]
		if a.ID != got.AccountID || a.Kind != chathook.KindWeb || a.Phone != "+972500000001" || a.FullName != "Dana Owner" ||
			a.Email != "dana@example.com" || a.JID != "972500000001:7@s.whatsapp.net" || a.State != chathook.AccountConnected {
			t.Errorf("account %+v", a)
		}
		if !e.session(t, a.JID) {
			t.Error("the device's session is not in the database")
		}
		if !fc.Connected() {
			t.Error("the paired device is not connected")
		}
		// Leased to this instance: another finds nothing to claim.
		other, err := e.st.ClaimAccounts(ctx, "b", e.clock.Now(), e.clock.Now().Add(time.Minute), 10)
		if err != nil || len(other) != 0 {
			t.Errorf("another instance claimed %+v (%v)", other, err)
		}
		// This one holds it through its claims.
		m.Claim(ctx)
		if len(e.net.Clients()) != 1 || !fc.Connected() {
			t.Errorf("a claim round made %d clients; the paired one online: %v", len(e.net.Clients()), fc.Connected())
		}
	})
}

// When every QR code has been shown its time, the pairing fails saying
// so, and its connection is closed.
func TestQRExpires(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	m := e.manager(t, "a")
	p, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	fc := e.net.Unpaired(t)
	e.clock.Add(60 * time.Second)
	m.RotateQR()
	for range 4 {
		e.clock.Add(20 * time.Second)
		m.RotateQR()
	}
	got, _ := e.st.Pairing(ctx, e.ws.ID, p.ID)
	if got.QR != fc.QRCodes()[5] || got.State != chathook.PairingWaiting {
		t.Fatalf("after 140 s: %+v", got)
	}
	e.clock.Add(20 * time.Second)
	m.RotateQR()
	got, _ = e.st.Pairing(ctx, e.ws.ID, p.ID)
	if got.State != chathook.PairingFailed || got.Err != "the QR code expired: start again" || got.QR != "" {
		t.Errorf("after 160 s: %+v", got)
	}
	if fc.Connected() {
		t.Error("the expired pairing's connection is still open")
	}
}

// Pairing by phone number: the 8-character code WhatsApp gives for the
// number is what Pair returns and saves, and no QR code is shown.
func TestPairByPhone(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		m := e.manager(t, "a")
		p, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com", Phone: "+972500000001"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Code != whatswebtest.PairingCode || p.QR != "" || p.Phone != "+972500000001" || p.State != chathook.PairingWaiting {
			t.Fatalf("Pair returned %+v", p)
		}
		if got, _ := e.st.Pairing(ctx, e.ws.ID, p.ID); got.Code != whatswebtest.PairingCode || got.QR != "" {
			t.Errorf("stored %+v", got)
		}
		if phones := e.net.Phones(); !slices.Equal(phones, []string{"+972500000001"}) {
			t.Errorf("pairing codes asked for %v", phones)
		}
		e.net.Unpaired(t).Pair(t, "972500000001:9@s.whatsapp.net", "")
		got, _ := e.st.Pairing(ctx, e.ws.ID, p.ID)
		if got.State != chathook.PairingPaired || got.Code != "" {
			t.Fatalf("after PairSuccess: %+v", got)
		}
		a := e.waitState(t, got.AccountID, chathook.AccountConnected)
		if a.Phone != "+972500000001" || a.JID != "972500000001:9@s.whatsapp.net" {
			t.Errorf("account %+v", a)
		}
	})
}

// Bad input names its field; an unknown workspace is not found; WhatsApp
// out of reach is said so.
func TestPairRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	m := e.manager(t, "a")
	for _, c := range []struct {
		req   whatsweb.PairRequest
		field string
	}{
		{whatsweb.PairRequest{WorkspaceID: e.ws.ID}, "email"},
		{whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana"}, "email"},
		{whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com", Phone: "0501234567"}, "phone"},
		{whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com", Phone: "+972 50"}, "phone"}, // spaces are fine, 5 digits too few
	} {
		_, err := m.Pair(ctx, c.req)
		var fe *ingest.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want a FieldError naming %s", c.req, err, c.field)
		}
	}
	if _, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: "nope", Email: "dana@example.com"}); !errors.Is(err, chathook.ErrNotFound) {
		t.Errorf("unknown workspace: %v", err)
	}
	e.net.SetUnreachable(true)
	if _, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com"}); err == nil ||
		!strings.Contains(err.Error(), "WhatsApp cannot be reached") {
		t.Errorf("unreachable: %v", err)
	}
	if n := len(e.net.Clients()); n != 1 {
		t.Errorf("%d clients made; only the unreachable attempt should make one", n)
	}
}
