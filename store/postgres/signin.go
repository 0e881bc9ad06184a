package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chathook/chathook/store"
	"github.com/jackc/pgx/v5"
)

// FailSignIn records a failed sign-in and bounds the table; see
// store.Users. Ids come from one sequence and only grow, so the rows with
// the Keep highest ids are the newest, whichever instance wrote them.
func (s *Store) FailSignIn(ctx context.Context, f store.SignInFailure) error {
	if len(f.Keys) == 0 || f.Keep <= 0 {
		return errors.New("fail sign-in: no keys, or nothing to keep")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sign_in_failures (key, at) SELECT k, $2 FROM unnest($1::bytea[]) AS k`,
			f.Keys, ms(f.At)); err != nil {
			return err
		}
		// Two statements, each along an index: OR would scan the table.
		if _, err := tx.Exec(ctx, `DELETE FROM sign_in_failures WHERE at <= $1`, ms(f.Forget)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sign_in_failures WHERE id <= (SELECT max(id) FROM sign_in_failures) - $1::bigint`, f.Keep)
		return err
	})
}

// SignInFailures reads the latest failures of each key; see store.Users.
func (s *Store) SignInFailures(ctx context.Context, keys [][]byte, after time.Time, limit int) ([][]time.Time, error) {
	out := make([][]time.Time, len(keys))
	for i, key := range keys {
		rows, err := s.pool.Query(ctx, `SELECT at FROM sign_in_failures WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT $3`,
			key, ms(after), limit)
		if err != nil {
			return nil, err
		}
		ats, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, err
		}
		for _, at := range ats {
			out[i] = append(out[i], fromMS(at))
		}
	}
	return out, nil
}

// ForgetSignInFailures deletes a key's failures.
func (s *Store) ForgetSignInFailures(ctx context.Context, key []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE key = $1`, key)
	return err
}
