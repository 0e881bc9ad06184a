package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

const userColumns = tables.UserColumns

func scanUser(row scanner, extra ...any) (chathook.User, error) {
	u, err := tables.User(row, extra...)
	return u, notFound(err)
}

// CreateUser adds a user; see store.Users.
func (s *Store) CreateUser(ctx context.Context, u chathook.User, passwordHash []byte) (chathook.User, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return u, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM workspaces WHERE id = ?`, u.WorkspaceID).Scan(&n); err != nil {
		return u, err
	}
	if n == 0 {
		return u, fmt.Errorf("workspace %s: %w", u.WorkspaceID, chathook.ErrNotFound)
	}
	if u, err = insertUser(ctx, tx, u, passwordHash); err != nil {
		return u, err
	}
	return u, tx.Commit()
}

// insertUser adds u in tx: chathook.ErrConflict when its email is taken.
func insertUser(ctx context.Context, tx *sql.Tx, u chathook.User, passwordHash []byte) (chathook.User, error) {
	err := tx.QueryRowContext(ctx, `INSERT INTO users (workspace_id, email, name, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING RETURNING id`,
		u.WorkspaceID, u.Email, u.Name, passwordHash, ms(u.CreatedAt)).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", u.Email, chathook.ErrConflict)
	}
	if err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	u.CreatedAt = fromMS(ms(u.CreatedAt))
	return u, nil
}

// UserByEmail finds a user by email, in any case.
func (s *Store) UserByEmail(ctx context.Context, email string) (chathook.User, []byte, error) {
	var hash []byte
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u WHERE u.email = ?`, email), &hash)
	return u, hash, err
}

// SetPassword replaces a password and signs the user out everywhere.
func (s *Store) SetPassword(ctx context.Context, userID int64, passwordHash []byte) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := setPassword(ctx, tx, userID, passwordHash); err != nil {
		return err
	}
	return tx.Commit()
}

// setPassword replaces a password in tx and ends every session of the
// user: chathook.ErrNotFound when there is no such user.
func setPassword(ctx context.Context, tx *sql.Tx, userID int64, passwordHash []byte) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %d: %w", userID, chathook.ErrNotFound)
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

// CreateSession stores a session's token hash and prunes expired ones.
func (s *Store) CreateSession(ctx context.Context, tokenHash []byte, userID int64, created, expires time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, ms(created)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		tokenHash, userID, ms(created), ms(expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return tx.Commit()
}

// Session resolves a session token's hash; see store.Users.
func (s *Store) Session(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Session, error) {
	var sess chathook.Session
	var wsCreated, created, expires int64
	ws := &sess.Workspace
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+`,
			w.id, w.name, w.owner_name, w.owner_email, w.created_at, s.created_at, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = u.workspace_id
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, ms(now)),
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
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return err
}
