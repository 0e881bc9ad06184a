package whatsweb_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/chathooktest"
	"github.com/chathook/chathook/source/whatsweb"
	"github.com/chathook/chathook/source/whatsweb/whatswebtest"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/postgres"
	"github.com/chathook/chathook/store/postgres/pgtest"
	"github.com/chathook/chathook/store/sqlite"
	"github.com/google/uuid"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// opener opens the test's store; called again, it opens another handle
// on the same database (another instance).
type opener func(t *testing.T) store.Store

// onStores runs test on SQLite and on PostgreSQL.
func onStores(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { test(t, sqliteOpener(t)) })
	t.Run("postgres", func(t *testing.T) {
		test(t, pgOpener(t))
	})
}

// sqliteOpener opens handles on a SQLite file of the test's own.
func sqliteOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "chathook.db")
	return func(t *testing.T) store.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// pgOpener opens handles on a PostgreSQL schema of the test's own.
func pgOpener(t *testing.T) opener {
	url := pgtest.URL(t)
	return func(t *testing.T) store.Store {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// clock is a settable clock that stands still unless moved.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a workspace on a store, WhatsApp faked, and a clock.
type env struct {
	st     store.Store
	ws     chathook.Workspace
	net    *whatswebtest.Network
	clock  *clock
	queued atomic.Int32
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, open opener) *env {
	t.Helper()
	return newEnvOn(t, open(t))
}

// newEnvOn is an env of a new workspace on st.
func newEnvOn(t *testing.T, st store.Store) *env {
	t.Helper()
	e := &env{st: st, net: whatswebtest.New(), clock: &clock{t: t0}}
	ws, err := e.st.CreateWorkspace(context.Background(),
		chathook.Workspace{ID: uuid.NewString(), Name: "Acme", OwnerName: "Olga", OwnerEmail: "olga@example.com", CreatedAt: t0},
		[]byte("token-"+uuid.NewString()), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = ws
	return e
}

// manager starts a Manager on the env's store, closed when the test ends.
func (e *env) manager(t *testing.T, owner string) *whatsweb.Manager {
	t.Helper()
	return e.managerOn(t, e.st, e.net, owner, 0, e.clock.Now)
}

func (e *env) managerOn(t *testing.T, st store.Store, net whatsweb.Network, owner string, lease time.Duration, now func() time.Time) *whatsweb.Manager {
	t.Helper()
	m, err := whatsweb.New(context.Background(), whatsweb.Config{
		Store: st, Network: net, Owner: owner, Lease: lease, Now: now,
		Queued: func() { e.queued.Add(1) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// pair links the account of jid through m, by QR code, and returns it.
func (e *env) pair(t *testing.T, m *whatsweb.Manager, net *whatswebtest.Network, jid, pushName string) (chathook.Account, *whatswebtest.Client) {
	t.Helper()
	ctx := context.Background()
	p, err := m.Pair(ctx, whatsweb.PairRequest{WorkspaceID: e.ws.ID, Email: "dana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	fc := net.Unpaired(t)
	fc.Pair(t, jid, pushName)
	got, err := e.st.Pairing(ctx, e.ws.ID, p.ID)
	if err != nil || got.State != chathook.PairingPaired || got.AccountID == 0 {
		t.Fatalf("pairing after PairSuccess: %+v, %v", got, err)
	}
	acc := e.waitState(t, got.AccountID, chathook.AccountConnected)
	return acc, fc
}

// waitState waits for an account to reach state.
func (e *env) waitState(t *testing.T, id int64, state chathook.AccountState) chathook.Account {
	t.Helper()
	var a chathook.Account
	chathooktest.Eventually(t, "account state "+string(state), func() bool {
		var err error
		a, err = e.st.Account(context.Background(), e.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.State == state
	})
	return a
}

// session returns whether the device's keys are in the session tables.
func (e *env) session(t *testing.T, jid string) bool {
	t.Helper()
	db, dialect := e.st.SessionDB()
	dev, err := sqlstore.NewWithDB(db, dialect, nil).GetDevice(context.Background(), mustJID(t, jid))
	if err != nil {
		t.Fatal(err)
	}
	return dev != nil
}

func mustJID(t *testing.T, s string) types.JID {
	t.Helper()
	j, err := types.ParseJID(s)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// newManagerKicking is a Manager whose Queued is kick.
func newManagerKicking(t *testing.T, e *env, kick func()) (*whatsweb.Manager, error) {
	m, err := whatsweb.New(context.Background(), whatsweb.Config{
		Store: e.st, Network: e.net, Owner: "a", Now: e.clock.Now, Queued: kick,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		t.Cleanup(func() { m.Close(context.Background()) })
	}
	return m, err
}
