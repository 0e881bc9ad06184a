package postgres

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
