// Package sqlite is chathook's embedded store: one SQLite file in WAL mode.
//
// The driver is modernc.org/sqlite, a pure-Go translation of SQLite: no
// cgo, so `go run` and cross-compiles work on a machine without a C
// compiler. Writes go through a single connection (SQLite has one writer
// at a time anyway; queueing in Go avoids SQLITE_BUSY), reads through a
// pool of their own that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
	"github.com/chathook/chathook/store/tables"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	w    *sql.DB // the one writer connection
	r    *sql.DB // readers
	logs *sql.DB // the detailed log's readers, apart from r: see Attempts
	// session is whatsmeow's (see SessionDB): its writes are few and
	// small, and never hold the writer that ingest waits for.
	session *sql.DB
	ws      *stmts // statements prepared on w
	rs      *stmts // statements prepared on r

	mu     sync.Mutex
	cursor int64 // the chat the last claim ended with

	group  *group.Ingester                       // Ingest's group commit, on the one writer
	turns  *turns                                // bookkeeping before ingest groups, for the writer
	hand   atomic.Pointer[store.Receiver]        // see HandTo
	tokens *group.Reads[string, tables.TokenUse] // UseToken's reads, shared by requests at once
}

// stmts holds prepared statements. The SQLite translation parses a
// statement in about the time it runs a simple one, so the hot queries are
// parsed once, at Open, rather than once per call. They are all prepared
// then: the writer pool has one connection, and preparing later, while a
// transaction holds it, would wait for ever.
type stmts struct {
	m map[string]*sql.Stmt
}

// writerSQL and readerSQL are the statements prepared at Open, on the
// writer and on the readers.
var writerSQL = []string{
	sqlIngestTarget, sqlDuplicateOf, sqlUpsertAccount, sqlFindChat, sqlInsertChat,
	sqlUpdateChat, sqlChatPending, sqlHeads, sqlRun, sqlLease, sqlLoadClaimed, sqlLoadChats, sqlLoadAttachments, sqlExtendLeases, sqlHoldRecovered, sqlRelease, sqlFailureCount,
	sqlSetFailures, sqlDisable, sqlQueueEmail, sqlGranularity, sqlChatCreated, sqlLoadPending, sqlInsertBundle, sqlMarkBundled, sqlUnwait,
}

var readerSQL = []string{sqlPendingChats, sqlBundleMessages, sqlTokenWorkspaces, sqlTokenWorkspace, sqlLoadAttachments,
	sqlLoadEdits, sqlLoadReactions}

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (*stmts, error) {
	c := &stmts{m: map[string]*sql.Stmt{}}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("prepare %.60q: %w", q, err)
		}
		c.m[q] = st
	}
	return c, nil
}

// get returns a statement prepared at Open.
func (c *stmts) get(query string) *sql.Stmt {
	st, ok := c.m[query]
	if !ok {
		panic("sqlite: statement not in writerSQL or readerSQL: " + query)
	}
	return st
}

func (c *stmts) close() {
	if c == nil {
		return
	}
	for _, st := range c.m {
		st.Close()
	}
}

// prep returns query, prepared at Open on the writer, bound to tx.
func (s *Store) prep(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(ctx, s.ws.get(query))
}

// beginHot begins a transaction on the writer for the paths that run all
// the time: ingest groups and, relaxed, the dispatcher's claims and
// outcome records. end must be called when it is done, and may be called
// again. The connection goes back to the defaults before anyone else may
// use it.
//
// Relaxed, it commits without waiting for the disk (synchronous=NORMAL):
// after a power loss a lost claim is claimed again and a lost outcome
// means the POST is made again with the same webhook-id, so at-least-once
// holds, while ingest's 202 still means on disk.
//
// Both keep their statement journals in memory (temp_store=MEMORY): a
// statement that changes several rows inside a transaction keeps one, and
// past 64 KiB SQLite spilled it to a temporary file, opened, written and
// closed again for every statement (5% of the batch path's CPU). Their
// statements write at most 1,024 rows each, so the journal stays small.
// Every other writer transaction keeps the default, a file past 64 KiB:
// an operator's discard or recovery may change a million rows in one
// statement.
func (s *Store) beginHot(ctx context.Context, relaxed bool) (tx *sql.Tx, end func(), err error) {
	seated := func() {}
	on, off := "PRAGMA temp_store = MEMORY", "PRAGMA temp_store = DEFAULT"
	if relaxed {
		seated = s.turns.ask() // bookkeeping goes before ingest groups
		on, off = on+"; PRAGMA synchronous = NORMAL", off+"; PRAGMA synchronous = FULL"
	}
	conn, err := s.w.Conn(ctx)
	seated()
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, on); err != nil {
		conn.Close()
		return nil, nil, err
	}
	var once sync.Once
	end = func() {
		once.Do(func() {
			if tx != nil {
				tx.Rollback() // a no-op after Commit
			}
			if _, err := conn.ExecContext(context.Background(), off); err != nil {
				// Never hand a relaxed connection to a durable write: drop it.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		})
	}
	if tx, err = conn.BeginTx(ctx, nil); err != nil {
		end()
		return nil, nil, err
	}
	return tx, end, nil
}

// idList encodes ids as a JSON array, for "IN (SELECT value FROM
// json_each(?))": one statement for any number of ids.
func idList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*9)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if need be) the database file at path and brings
// its schema up to date.
//
// synchronous=FULL: a 202 from the ingest API means the message is on
// disk, even if the machine loses power right after.
//
// A new database file is created 0600 whatever the umask, and SQLite
// gives its -wal and -shm files the database file's mode: they hold
// message text and webhook secrets.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	// All of them stay open: database/sql keeps 2 idle by default, and
	// every request reads its token, so under load readers were closed
	// and opened again (each opening parses the schema) all the time.
	r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	// Log downloads page through a log that may hold millions of rows:
	// on a pool of their own, any number of them at once never makes a
	// token check or /healthz wait for a reader.
	logs, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	logs.SetMaxOpenConns(logReaders)
	session, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		r.Close()
		logs.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	session.SetMaxOpenConns(sessionConns)
	s := &Store{w: w, r: r, logs: logs, session: session, turns: newTurns()}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.ws, err = prepareAll(ctx, w, writerSQL); err == nil {
		s.rs, err = prepareAll(ctx, r, readerSQL)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.group = group.New(s.commitGroup, 1) // one writer: one group at a time
	// Two reads at once: one gathers the requests that arrive while the
	// other runs; more would only make each read smaller.
	s.tokens = group.NewReads(s.readTokens, 2)
	return s, nil
}

// createPrivate creates the file at path, empty (which SQLite takes for a
// new database) and readable by its owner only, unless it exists. An
// existing file keeps the mode its operator gave it: a group-readable
// database may be deliberate (a backup agent in the group), and chathook
// cannot tell that from an accident; README says how to tighten it.
func createPrivate(path string) error {
	if path == "" || path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// The umask may have taken more than group and other, even the
	// owner's write; 0600 is what SQLite needs and what is safe.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// migrate applies, in order and each in its own transaction, every
// migration not yet recorded in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		if err := s.apply(ctx, version, name); err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, version, name string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// logReaders is how many connections log downloads share: two keep one
// download from waiting behind another's page.
const logReaders = 2

// sessionConns is how many connections whatsmeow's session store has: its
// writes take turns anyway (one SQLite writer), a few let reads run beside
// them.
const sessionConns = 4

// Ping checks that both pools reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return err
	}
	return s.w.PingContext(ctx)
}

// Close closes the database.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.Close()
		s.tokens.Close()
	}
	s.ws.close()
	s.rs.close()
	err := s.r.Close()
	if lerr := s.logs.Close(); err == nil {
		err = lerr
	}
	if serr := s.session.Close(); err == nil {
		err = serr
	}
	if werr := s.w.Close(); err == nil {
		err = werr
	}
	return err
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
