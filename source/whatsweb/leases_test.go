package whatsweb_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
)

// countingStore counts an instance's lease claims.
type countingStore struct {
	store.Store
	claims atomic.Int32
}

func (s *countingStore) ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error) {
	defer s.claims.Add(1)
	return s.Store.ClaimAccounts(ctx, owner, now, until, limit)
}

// waitClaims waits for n more claim rounds of s.
func waitClaims(t *testing.T, s *countingStore, n int32) {
	t.Helper()
	target := s.claims.Load() + n
	chathooktest.Eventually(t, fmt.Sprintf("%d claim rounds", n), func() bool { return s.claims.Load() >= target })
}

// Two instances on one PostgreSQL database never hold one account at
// once, whatever the order of their claims; when the holder dies, its
// accounts move to the other once their leases expire; an instance that
// stops releases its leases at once.
func TestLeasesAcrossInstances(t *testing.T) {
	open := pgOpener(t)
	ctx := context.Background()
	e := newEnv(t, open)
	const lease = 300 * time.Millisecond

	// Three accounts, paired through an instance that then stops: their
	// leases are free when the two instances start.
	pairer := e.managerOn(t, e.st, e.net, "pairer", lease, time.Now)
	jids := []string{"972500000011:1@s.whatsapp.net", "972500000012:1@s.whatsapp.net", "972500000013:1@s.whatsapp.net"}
	var ids []int64
	for _, jid := range jids {
		acc, _ := e.pair(t, pairer, e.net, jid, "")
		ids = append(ids, acc.ID)
	}
	if err := pairer.Close(ctx); err != nil {
		t.Fatal(err)
	}

	netA, netB := e.net.Sibling(), e.net.Sibling()
	stA, stB := &countingStore{Store: open(t)}, &countingStore{Store: open(t)}
	a := e.managerOn(t, stA, netA, "a", lease, time.Now)
	b := e.managerOn(t, stB, netB, "b", lease, time.Now)
	ctxA, stopA := context.WithCancel(ctx)
	ctxB, stopB := context.WithCancel(ctx)
	defer stopA()
	defer stopB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	go func() { doneB <- b.Run(ctxB) }()

	// Each account comes online through one of them, and stays so over
	// several lease periods of both claiming.
	online := func(n *whatswebtest.Network, jid string) bool {
		for _, c := range n.Clients() {
			if c.JID() == jid && c.Connected() {
				return true
			}
		}
		return false
	}
	for _, jid := range jids {
		chathooktest.Eventually(t, jid+" online", func() bool { return online(netA, jid) || online(netB, jid) })
	}
	waitClaims(t, stA, 10)
	waitClaims(t, stB, 10)
	e.net.NoOverlap(t)
	held := func(n *whatswebtest.Network) (k int) {
		for _, jid := range jids {
			if online(n, jid) {
				k++
			}
		}
		return k
	}
	if ha, hb := held(netA), held(netB); ha+hb != len(jids) {
		t.Fatalf("a holds %d, b holds %d of %d accounts", ha, hb, len(jids))
	}
	for _, id := range ids {
		if acc, _ := e.st.Account(ctx, e.ws.ID, id); acc.State != chathook.AccountConnected {
			t.Errorf("account %d is %s", id, acc.State)
		}
	}

	// a dies: its leases stay until they expire, then b takes over.
	a.Kill()
	if err := <-doneA; err != nil {
		t.Errorf("Run after Kill: %v", err)
	}
	for _, jid := range jids {
		chathooktest.Eventually(t, jid+" online through b", func() bool { return online(netB, jid) })
	}
	e.net.NoOverlap(t)

	// b stops: it releases its leases, so another instance claims them at
	// once, not a lease later.
	stopB()
	if err := <-doneB; err != nil {
		t.Errorf("Run at its context's end: %v", err)
	}
	if held(netB) != 0 {
		t.Errorf("b still connected after it stopped")
	}
	now := time.Now()
	got, err := e.st.ClaimAccounts(ctx, "c", now, now.Add(time.Minute), 10)
	if err != nil || len(got) != len(jids) {
		t.Errorf("after b stopped, c claimed %d accounts (%v)", len(got), err)
	}
}

// An account taken over by another instance (here: the same phone linked
// again through it) is dropped by its former holder at its next claim.
func TestTakenOverIsDropped(t *testing.T) {
	onStores(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		e := newEnv(t, open)
		a := e.manager(t, "a")
		acc, old := e.pair(t, a, e.net, danaJID, "Dana Owner")

		netB := e.net.Sibling()
		b := e.managerOn(t, open(t), netB, "b", 0, e.clock.Now)
		again, fresh := e.pair(t, b, netB, "972500000001:8@s.whatsapp.net", "Dana Owner")
		if again.ID != acc.ID || again.JID != "972500000001:8@s.whatsapp.net" {
			t.Fatalf("linked again as %+v, was %+v", again, acc)
		}
		a.Claim(ctx)
		if old.Connected() {
			t.Error("the former holder kept its connection")
		}
		if !fresh.Connected() {
			t.Error("the new holder lost its connection")
		}
		b.Claim(ctx)
		if n := len(netB.Clients()); n != 1 || !fresh.Connected() {
			t.Errorf("the new holder has %d clients after a claim", n)
		}
	})
}

// failingStore refuses lease claims, as a database out of reach would.
type failingStore struct {
	store.Store
	fail atomic.Bool
}

func (s *failingStore) ClaimAccounts(ctx context.Context, owner string, now, until time.Time, limit int) ([]chathook.Account, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("connection refused")
	}
	return s.Store.ClaimAccounts(ctx, owner, now, until, limit)
}

// A holder that cannot renew its leases drops its connections while
// their leases still hold, before another instance may take them over.
func TestUnrenewedLeaseDropped(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, sqliteOpener(t))
	st := &failingStore{Store: e.st}
	m := e.managerOn(t, st, e.net, "a", time.Minute, e.clock.Now)
	_, fc := e.pair(t, m, e.net, danaJID, "Dana Owner")

	st.fail.Store(true)
	e.clock.Add(30 * time.Second) // 30 s of the lease left
	m.Claim(ctx)
	if !fc.Connected() {
		t.Fatal("dropped with half its lease left")
	}
	e.clock.Add(11 * time.Second) // 19 s left: less than a renewal period (20 s)
	m.Claim(ctx)
	if fc.Connected() {
		t.Fatal("still connected though its lease runs out before the next renewal")
	}
	e.net.NoOverlap(t)

	// The database back, the lease still its own: it connects again.
	st.fail.Store(false)
	m.Claim(ctx)
	if c := e.net.Online(t, danaJID); c == fc {
		t.Error("reused the dropped client")
	}
}

// Instances started together on a fresh PostgreSQL database create
// whatsmeow's session tables once: neither fails on the other's tables.
func TestNewTogether(t *testing.T) {
	open := pgOpener(t)
	ctx := context.Background()
	const n = 4
	stores := make([]store.Store, n)
	for i := range stores {
		stores[i] = open(t)
	}
	errs := make(chan error, n)
	for i, st := range stores {
		go func() {
			m, err := whatsweb.New(ctx, whatsweb.Config{Store: st, Network: whatswebtest.New(), Owner: fmt.Sprint("i", i)})
			if err == nil {
				err = m.Close(ctx)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestNewBesideAnotherSchema: a database whose other schema already has
// whatsmeow's tables (another chathook, a bridge) does not confuse the
// upgrade of this one, which asks information_schema without a schema.
func TestNewBesideAnotherSchema(t *testing.T) {
	ctx := context.Background()
	for i, open := range []opener{pgOpener(t), pgOpener(t)} {
		st := open(t)
		m, err := whatsweb.New(ctx, whatsweb.Config{Store: st, Network: whatswebtest.New(), Owner: fmt.Sprint("i", i)})
		if err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}
		db, _ := st.SessionDB()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM whatsmeow_device`).Scan(&n); err != nil {
			t.Fatalf("schema %d has no device table of its own: %v", i, err)
		}
	}
}
