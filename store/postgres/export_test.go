package postgres

import (
	"context"
	"io/fs"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Test hooks: raw SQL on the store's pool.
func (s *Store) QueryRowForTest(ctx context.Context, q string, args ...any) pgx.Row {
	return s.pool.QueryRow(ctx, q, args...)
}

func (s *Store) ExecForTest(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	return s.pool.Exec(ctx, q, args...)
}

// MigrationsForTest counts the embedded migrations.
func MigrationsForTest() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
}

// OpenForTest is Open with workers groups written at once, and a count
// of the writes to the server on the store's connections: each is a
// round trip.
func OpenForTest(ctx context.Context, url string, workers int) (*Store, *atomic.Int64, error) {
	writes := &atomic.Int64{}
	st, err := open(ctx, url, workers, func(cfg *pgxpool.Config) {
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, writes}, nil
		}
	})
	return st, writes, err
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// FinishDownloadForTest are the statements of FinishDownload's
// transaction, in order: lock the message of attachment $1, record the
// outcome, release the held deliveries.
var FinishDownloadForTest = struct{ Lock, Record, Release string }{lockMessage, finishDownload, releaseHeld}

// RecordFactsInTxForTest runs RecordFacts' statements in tx, which the
// caller commits: an instance stopped before its commit.
var RecordFactsInTxForTest = recordFacts

// SetFewMatchesForTest sets how many matches a search gathers before it
// walks the list instead (see searchFew), until the test ends.
func SetFewMatchesForTest(t interface{ Cleanup(func()) }, n int) {
	old := fewMatches
	fewMatches = n
	t.Cleanup(func() { fewMatches = old })
}
