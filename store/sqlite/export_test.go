package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Test hooks: raw SQL on the writer connection.
func (s *Store) QueryRowForTest(ctx context.Context, q string) *sql.Row {
	return s.w.QueryRowContext(ctx, q)
}

func (s *Store) ExecForTest(ctx context.Context, q string) (sql.Result, error) {
	return s.w.ExecContext(ctx, q)
}

// HoldWriterForTest takes the writer connection until release is first
// called.
func (s *Store) HoldWriterForTest(ctx context.Context) (release func(), err error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return sync.OnceFunc(func() { conn.Close() }), nil
}

// WriterWaitsForTest is how many times a caller has waited for the writer.
func (s *Store) WriterWaitsForTest() int64 { return s.w.Stats().WaitCount }

// GroupsWaitingForTest is how many ingest groups wait for bookkeeping to
// take the writer first.
func (s *Store) GroupsWaitingForTest() int {
	s.turns.mu.Lock()
	defer s.turns.mu.Unlock()
	return s.turns.waiting
}
