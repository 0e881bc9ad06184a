// Package postgres is chathook's PostgreSQL store, for running several
// instances on one database. It keeps every guarantee of package store,
// across instances:
//
//   - Claims lock the chats of the lanes they take work from (FOR NO KEY
//     UPDATE SKIP LOCKED), so one lane's deliveries (a chat's to one
//     endpoint) are only ever claimed by one claimer at a time, and only
//     when none of them is in flight: per-lane order holds across
//     instances (see deliveries.go).
//   - Leases expire: the work of an instance that died is claimed again
//     by another once its lease has run out.
//   - Finish counts consecutive failures under the endpoint's row lock, so
//     outcomes recorded at once by two instances are counted exactly and
//     the auto-disable and its one email happen once.
//   - Ingest is idempotent under concurrent duplicates (the unique key on
//     (account, message_id) decides, ON CONFLICT DO NOTHING), and accounts
//     and chats seen for the first time by two requests at once are
//     created once.
//   - Every instance flushes bundles at each hour's end; a flush locks
//     the waiting messages it bundles and re-checks that they still wait,
//     so two flushes of the same chats at once put each message in one
//     bundle (see bundles.go). A change of granularity waits for ingests
//     and flushes in progress, so a switch to none strands no message.
//   - RecordFacts takes a reply's row, then its message's, FOR UPDATE
//     before reading them, so facts of one message recorded at once by
//     two instances move its status forward once and make a reply sent
//     once (a ReplySent at once waits and is not ours); fact ids are
//     decided by a unique key (see facts.go).
//   - Migrations run under an advisory lock: instances started together
//     apply them once.
//
// Why not River (or another Postgres job queue): it keeps "each job once"
// but not "a chat's deliveries one at a time, in order, a failed head
// holding back its chat", nor the disable-and-email in the same
// transaction as the outcome, so those rules would be written around it
// anyway, on a second schema that SQLite cannot share.
//
// SQL is hand-written and mirrors store/sqlite; times are unix
// milliseconds, as there.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// ingestWorkers is how many groups of Ingest calls are written at once.
// Measured on 2 cores (chathook bench, and BenchmarkIngestSingle): 2 ties
// 1 on single messages and ingests batches 1.3x faster, one filling while
// the other waits for its commit; 4 and 8 make smaller groups, 0.8x.
const ingestWorkers = 2

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	// session is whatsmeow's (see SessionDB), on pool.
	session *sql.DB
	// logReads holds a token for each log page being read: a quarter of
	// the pool at most, so log downloads leave the rest to everyone else.
	// A semaphore rather than a pool of their own: PostgreSQL connections
	// are server processes, counted against max_connections across
	// every instance.
	logReads chan struct{}
	// group gathers concurrent Ingest calls into shared transactions.
	group  *group.Ingester
	tokens *group.Reads[string, tables.TokenUse] // UseToken's reads, shared by requests at once

	mu     sync.Mutex
	cursor int64 // the lane the last claim of this Store ended with

	// channel is the live channel's name (see notify.go), once read.
	channelMu sync.Mutex
	channel   string
}

var _ store.Store = (*Store)(nil)

// Open connects to the database a postgres:// URL names and brings its
// schema up to date. The URL takes pgx's settings, among them
// pool_max_conns (default 4 per core, at least 16) and search_path (the
// schema chathook's tables live in; default public).
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, ingestWorkers, nil)
}

// open is Open with workers groups of Ingest calls written at once, and
// configure, if not nil, given the pool's settings (tests count round
// trips with it).
func open(ctx context.Context, url string, workers int, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(16, 4*runtime.GOMAXPROCS(0)))
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	s := &Store{pool: pool, logReads: make(chan struct{}, max(1, cfg.MaxConns/4))}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.session = stdlib.OpenDBFromPool(pool)
	s.group = group.New(s.commitGroup, workers)
	// Two reads at once: one gathers the requests that arrive while the
	// other is on its round trip.
	s.tokens = group.NewReads(s.readTokens, 2)
	return s, nil
}

// migrate applies, in order and in one transaction, every migration not
// yet recorded in schema_migrations. A transaction-level advisory lock,
// keyed by the schema, makes instances that start together take turns:
// the first applies the migrations, the others wait, then find nothing
// left to do. PostgreSQL's DDL is transactional, so a migration that fails
// leaves nothing behind.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		if schema == nil {
			return errors.New("no schema of the search_path exists: create it (CREATE SCHEMA ...) or leave search_path out of --db")
		}
		if _, err := tx.Exec(ctx,
			`SELECT pg_advisory_xact_lock(hashtextextended('chathook migrations in ' || $1, 0))`, *schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
			return err
		}
		applied := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, v := range versions {
			applied[v] = true
		}
		for _, name := range names {
			version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
			if applied[version] {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			// The simple protocol runs a file of several statements.
			if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				version, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("%s: %w", version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes every connection, after those in use are given back.
func (s *Store) Close() error {
	// First the groups being written, which answer their callers.
	s.group.Close()
	s.tokens.Close()
	// Then whatsmeow's handle: the pool waits for the connections it
	// holds.
	err := s.session.Close()
	s.pool.Close()
	return err
}

// inTx runs fn in a transaction, and runs it again, up to seven more
// times after a short random pause, when PostgreSQL aborts it for a
// deadlock or a serialization failure. The store takes its locks in a set
// order where it can (message keys, chats, endpoints), but some orders are
// the callers' (two batches creating the same new chats in a different
// order); the transaction rolled back wrote nothing, so running it again
// is safe. fn must keep no state across runs other than what it rebuilds.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return retried(ctx, func() error { return pgx.BeginFunc(ctx, s.pool, fn) })
}

// retried runs a transaction, and again after a deadlock or a
// serialization failure (see again).
func retried(ctx context.Context, tx func() error) error {
	for attempt := 1; ; attempt++ {
		err := tx()
		if err == nil || !again(ctx, attempt, err) {
			return err
		}
	}
}

// again tells whether a transaction that failed with err on its attempt-th
// run is to run again (see inTx), after pausing for it.
func again(ctx context.Context, attempt int, err error) bool {
	var pgErr *pgconn.PgError
	if attempt == 8 || !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(10*time.Millisecond)))):
		return true
	}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// noRows maps pgx's "no rows" to err.
func noRows(err, to error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return to
	}
	return err
}
