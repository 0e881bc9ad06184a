package sqlite

import (
	"context"
	"database/sql"
)

// Test hooks: raw SQL on the writer connection.
func (s *Store) QueryRowForTest(ctx context.Context, q string) *sql.Row {
	return s.w.QueryRowContext(ctx, q)
}

func (s *Store) ExecForTest(ctx context.Context, q string) (sql.Result, error) {
	return s.w.ExecContext(ctx, q)
}
