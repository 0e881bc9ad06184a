package sqlite

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook/store"
)

// FailSignIn records a failed sign-in and bounds the table; see
// store.Users. Ids only grow, so the rows with the Keep highest ids are
// the newest.
func (s *Store) FailSignIn(ctx context.Context, f store.SignInFailure) error {
	if len(f.Keys) == 0 || f.Keep <= 0 {
		return errors.New("fail sign-in: no keys, or nothing to keep")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var last int64
	for _, key := range f.Keys {
		if err := tx.QueryRowContext(ctx, `INSERT INTO sign_in_failures (key, at) VALUES (?, ?) RETURNING id`,
			key, ms(f.At)).Scan(&last); err != nil {
			return err
		}
	}
	// Two statements, each along an index: OR would scan the table.
	if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE at <= ?`, ms(f.Forget)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE id <= ?`, last-int64(f.Keep)); err != nil {
		return err
	}
	return tx.Commit()
}

// SignInFailures reads the latest failures of each key; see store.Users.
func (s *Store) SignInFailures(ctx context.Context, keys [][]byte, after time.Time, limit int) ([][]time.Time, error) {
	out := make([][]time.Time, len(keys))
	for i, key := range keys {
		rows, err := s.r.QueryContext(ctx, `SELECT at FROM sign_in_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?`,
			key, ms(after), limit)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var at int64
			if err := rows.Scan(&at); err != nil {
				rows.Close()
				return nil, err
			}
			out[i] = append(out[i], fromMS(at))
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ForgetSignInFailures deletes a key's failures.
func (s *Store) ForgetSignInFailures(ctx context.Context, key []byte) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE key = ?`, key)
	return err
}
