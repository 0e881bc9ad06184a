package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const userColumns = tables.UserColumns

// emailKey is the form users_email indexes: the email with A-Z folded.
const emailKey = `lower(email COLLATE "C")`

func scanUser(row pgx.Row, extra ...any) (chathook.User, error) {
	u, err := tables.User(row, extra...)
	return u, noRows(err, chathook.ErrNotFound)
}

// CreateUser adds a user; see store.Users. The unique index on the folded
// email decides between two callers taking one email at once.
func (s *Store) CreateUser(ctx context.Context, u chathook.User, passwordHash []byte) (chathook.User, error) {
	return insertUser(ctx, s.pool, u, passwordHash)
}

// insertUser adds u through q (the pool, or a transaction):
// chathook.ErrConflict when its email is taken, ErrNotFound when its
// workspace is not there.
func insertUser(ctx context.Context, q querier, u chathook.User, passwordHash []byte) (chathook.User, error) {
	err := q.QueryRow(ctx, `INSERT INTO users (workspace_id, email, name, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT ((`+emailKey+`)) DO NOTHING RETURNING id`,
		u.WorkspaceID, u.Email, u.Name, passwordHash, ms(u.CreatedAt)).Scan(&u.ID)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return u, fmt.Errorf("user %s: %w", u.Email, chathook.ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return u, fmt.Errorf("workspace %s: %w", u.WorkspaceID, chathook.ErrNotFound)
	case err != nil:
		return u, fmt.Errorf("create user: %w", err)
	}
	u.CreatedAt = fromMS(ms(u.CreatedAt))
	return u, nil
}

// UserByEmail finds a user by email, in any ASCII case.
func (s *Store) UserByEmail(ctx context.Context, email string) (chathook.User, []byte, error) {
	var hash []byte
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u
		WHERE `+emailKey+` = lower($1::text COLLATE "C")`, email), &hash)
	return u, hash, err
}

// SetPassword replaces a password and signs the user out everywhere, in
// one transaction.
func (s *Store) SetPassword(ctx context.Context, userID int64, passwordHash []byte) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return setPassword(ctx, tx, userID, passwordHash) })
}

// setPassword replaces a password in tx and ends every session of the
// user: chathook.ErrNotFound when there is no such user.
func setPassword(ctx context.Context, tx pgx.Tx, userID int64, passwordHash []byte) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %d: %w", userID, chathook.ErrNotFound)
	}
	_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// CreateSession stores a session's token hash and prunes expired ones.
func (s *Store) CreateSession(ctx context.Context, tokenHash []byte, userID int64, created, expires time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, ms(created)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			tokenHash, userID, ms(created), ms(expires)); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
}

// Session resolves a session token's hash; see store.Users.
func (s *Store) Session(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Session, error) {
	var sess chathook.Session
	var wsCreated, created, expires int64
	ws := &sess.Workspace
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`,
			w.id, w.name, w.owner_name, w.owner_email, w.created_at, s.created_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = u.workspace_id
		WHERE s.token_hash = $1 AND s.expires_at > $2`, tokenHash, ms(now)),
		&ws.ID, &ws.Name, &ws.OwnerName, &ws.OwnerEmail, &wsCreated, &created, &expires)
	if errors.Is(err, chathook.ErrNotFound) {
		return sess, chathook.ErrUnauthorized
	}
	if err != nil {
		return sess, err
	}
	sess.User = u
	ws.CreatedAt, sess.CreatedAt, sess.ExpiresAt = fromMS(wsCreated), fromMS(created), fromMS(expires)
	return sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return err
}
