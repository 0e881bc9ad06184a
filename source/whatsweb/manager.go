package whatsweb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chathook/chathook"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// maxHeld is the most accounts one instance holds at once.
const maxHeld = 1000

// Manager holds the connections of the accounts this instance leases, and
// the pairings it runs.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	container *sqlstore.Container

	// ctx lives as long as the connections: Close and Kill end it.
	ctx    context.Context
	cancel context.CancelFunc

	// tick is held by a round of lease claims, and by Close while it
	// releases, so that no claim renews a lease Close just gave back.
	tick sync.Mutex

	mu      sync.Mutex
	conns   map[int64]*conn    // by account id
	pairs   map[*conn]struct{} // pairings under way
	held    map[int64]bool     // accounts leased to this instance at the last claim
	retry   map[int64]backoff  // accounts whose connection failed, not to be tried before
	round   int64              // claim rounds begun
	stopped bool               // Close or Kill was called
	wake    chan struct{}

	qrPoll time.Duration // how often a pairing looks at the clock for its QR code's expiry
	// mediaRetryWait bounds a download's wait for the phone to upload a
	// file again (DefaultMediaRetryWait).
	mediaRetryWait time.Duration
	// handleTimeout bounds the handling of one event, and each attempt
	// to store a batch of history (DefaultHandleTimeout).
	handleTimeout time.Duration
	// historyRetry is the first wait before a batch of history the store
	// refused is tried again; it doubles up to a minute.
	historyRetry time.Duration
}

// DefaultHandleTimeout bounds the handling of one event: well under the
// five minutes after which whatsmeow handles the next event alongside.
const DefaultHandleTimeout = 2 * time.Minute

type backoff struct {
	at    time.Time
	fails int
}

// New opens whatsmeow's sqlstore on cfg.Store.SessionDB() and upgrades its
// tables. The Manager holds no account until Run claims some, or Pair
// links one.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("whatsweb: no store")
	}
	if cfg.Owner == "" {
		return nil, errors.New("whatsweb: no owner name for the account leases")
	}
	db, dialect := cfg.Store.SessionDB()
	switch n := cfg.Network.(type) {
	case nil:
		cfg.Network = Whatsmeow{Logger: cfg.Logger, Sent: sentReplies(db)}
	case Whatsmeow:
		if n.Sent == nil { // a proxy set by the caller keeps its replies for retry receipts
			n.Sent = sentReplies(db)
			cfg.Network = n
		}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	container := sqlstore.NewWithDB(db, dialect, waLogger(cfg.Logger, "whatsmeow/sqlstore"))
	if err := upgrade(ctx, container, db, dialect); err != nil {
		return nil, fmt.Errorf("whatsweb: upgrade the session tables: %w", err)
	}
	m := &Manager{
		cfg: cfg, log: cfg.Logger.With("owner", cfg.Owner), container: container,
		conns: map[int64]*conn{}, pairs: map[*conn]struct{}{}, held: map[int64]bool{}, retry: map[int64]backoff{},
		wake: make(chan struct{}, 1), qrPoll: time.Second, mediaRetryWait: DefaultMediaRetryWait,
		handleTimeout: DefaultHandleTimeout, historyRetry: time.Second,
	}
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return m, nil
}

// upgrade creates or upgrades whatsmeow's tables. whatsmeow's upgrade
// takes no lock, so on PostgreSQL instances started together would each
// create the tables, and all but one fail: they take turns under an
// advisory lock, held on a connection of its own, keyed by the schema.
func upgrade(ctx context.Context, container *sqlstore.Container, db *sql.DB, dialect string) error {
	if dialect != "postgres" {
		return container.Upgrade(ctx)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	const key = `hashtextextended('chathook whatsmeow sessions in ' || current_schema(), 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`)
	// (The store's migrations create whatsmeow_version in chathook's
	// schema, so that whatsmeow's upgrade, which looks for it in every
	// schema, finds this one.)
	return container.Upgrade(ctx)
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// Run claims and renews account leases every Lease/3 and holds one
// connection per leased account, reconnecting those that fail. When ctx
// is done it closes the Manager (disconnects, releases the leases) and
// returns Close's error; after Kill or Close it returns nil.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Lease / 3)
	defer t.Stop()
	for {
		m.claim(ctx)
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return m.Close(cctx)
		case <-m.ctx.Done():
			return nil
		case <-t.C:
		case <-m.wake:
		}
	}
}

// poke makes Run claim now rather than at its next tick: an account's
// state changed.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// claim is one round of leases: renew those held, take free and expired
// ones, and make the connections match. A connection whose lease could
// not be renewed is dropped before the lease can expire, so that another
// instance taking the account over never finds it still connected here.
func (m *Manager) claim(ctx context.Context) {
	m.tick.Lock()
	defer m.tick.Unlock()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.round++
	round := m.round
	m.mu.Unlock()

	now := m.now()
	until := now.Add(m.cfg.Lease)
	accs, err := m.cfg.Store.ClaimAccounts(ctx, m.cfg.Owner, now, until, maxHeld)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	if err != nil {
		m.log.Warn("whatsapp account leases not renewed", "err", err)
		for id, c := range m.conns {
			if c.leaseUntil().Before(now.Add(m.cfg.Lease / 3)) {
				m.log.Warn("whatsapp connection dropped: its lease runs out", "account_id", id)
				m.dropLocked(c)
			}
		}
		return
	}
	held := make(map[int64]chathook.Account, len(accs))
	for _, a := range accs {
		held[a.ID] = a
	}
	m.held = map[int64]bool{}
	for id := range held {
		m.held[id] = true
	}
	for id, c := range m.conns {
		if _, ok := held[id]; !ok && c.round < round {
			// Released (a state that wants no connection) or taken over.
			m.log.Info("whatsapp connection closed: account no longer leased here", "account_id", id)
			m.dropLocked(c)
		}
	}
	for _, a := range accs {
		c := m.conns[a.ID]
		if c != nil && c.jid() != a.JID {
			m.log.Info("whatsapp connection closed: the account was linked again", "account_id", a.ID)
			m.dropLocked(c)
			c = nil
		}
		if c != nil {
			c.renew(a, until)
			continue
		}
		if b, ok := m.retry[a.ID]; ok && now.Before(b.at) {
			continue
		}
		c = &conn{m: m, acc: a, until: until, round: round, groups: map[types.JID]string{}}
		m.conns[a.ID] = c
		go c.start()
	}
}

// dropLocked closes a connection and forgets it; m.mu is held.
func (m *Manager) dropLocked(c *conn) {
	c.close()
	if id := c.account().ID; m.conns[id] == c {
		delete(m.conns, id)
	}
	delete(m.pairs, c)
}

// drop is dropLocked for callers that do not hold m.mu.
func (m *Manager) drop(c *conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropLocked(c)
}

// failed drops a connection that could not be made or was lost for
// good, and says when to try again: 5 s after the first failure,
// doubling up to 5 minutes. An account shown connected shows connecting.
func (m *Manager) failed(c *conn, err error) {
	id := c.account().ID
	m.mu.Lock()
	b := m.retry[id]
	b.fails++
	wait := min(5*time.Second<<min(b.fails-1, 6), 5*time.Minute)
	b.at = m.now().Add(wait)
	m.retry[id] = b
	m.dropLocked(c)
	m.mu.Unlock()
	m.log.Warn("whatsapp connection failed", "account_id", id, "retry_in", wait, "err", err)
	c.setState(m.ctx, chathook.AccountConnecting, chathook.AccountConnected)
}

// connected forgets an account's past failures.
func (m *Manager) connected(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.retry, id)
}

// Kill stops the Manager as a crash would: every connection is dropped
// and its leases are kept, so other instances take the accounts over only
// once the leases expire. For tests of several instances.
func (m *Manager) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	m.cancel()
	for c := range m.pairs {
		c.close()
	}
	for _, c := range m.conns {
		c.close()
	}
	m.conns, m.pairs = map[int64]*conn{}, map[*conn]struct{}{}
}

// Close disconnects everything this Manager holds, fails the pairings it
// runs, and releases its leases so that another instance may take the
// accounts at once. Run calls it when its context ends; a command that
// only paired an account calls it itself.
func (m *Manager) Close(ctx context.Context) error {
	m.tick.Lock()
	defer m.tick.Unlock()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	m.stopped = true
	pairs := m.pairs
	ids := make([]int64, 0, len(m.held)+len(m.conns))
	for id := range m.held {
		ids = append(ids, id)
	}
	for id, c := range m.conns {
		if !m.held[id] {
			ids = append(ids, id)
		}
		c.close()
	}
	m.conns, m.pairs = map[int64]*conn{}, map[*conn]struct{}{}
	m.mu.Unlock()

	for c := range pairs {
		c.close()
		c.pairing.fail(ctx, "chathook stopped before the phone answered: start again")
	}
	m.cancel()
	if len(ids) == 0 {
		return nil
	}
	if err := m.cfg.Store.ReleaseAccounts(ctx, m.cfg.Owner, ids); err != nil {
		return fmt.Errorf("whatsweb: release account leases: %w", err)
	}
	return nil
}
