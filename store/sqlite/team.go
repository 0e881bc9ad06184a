package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// Teammates lists a workspace's users, oldest first.
func (s *Store) Teammates(ctx context.Context, workspaceID string) ([]chathook.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.workspace_id = ? ORDER BY u.created_at, u.id`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.All(rows, func(row tables.Scanner) (chathook.User, error) { return tables.User(row) })
}

// DeleteUser removes a user and its sessions in one transaction; its
// reset links and read marks go by ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, workspaceID string, userID int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE id = ? AND workspace_id = ?)`,
		userID, workspaceID); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ? AND workspace_id = ?`, userID, workspaceID)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %d: %w", userID, chathook.ErrNotFound)
	}
	return tx.Commit()
}

// CreateTeamLink stores a link, replacing the older one of its person;
// see store.Users.
func (s *Store) CreateTeamLink(ctx context.Context, tokenHash []byte, l chathook.TeamLink) (chathook.TeamLink, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return l, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM team_links WHERE expires_at <= ?`, ms(l.CreatedAt)); err != nil {
		return l, err
	}
	var userID any
	switch l.Kind {
	case chathook.LinkInvite:
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE email = ?`, l.Email).Scan(&n); err != nil {
			return l, err
		}
		if n > 0 {
			return l, tables.ErrTeammateExists
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_links WHERE kind = 'invite' AND workspace_id = ? AND email = ?`, l.WorkspaceID, l.Email); err != nil {
			return l, err
		}
	case chathook.LinkReset:
		err := tx.QueryRowContext(ctx, `SELECT email, name FROM users WHERE id = ? AND workspace_id = ?`, l.UserID, l.WorkspaceID).
			Scan(&l.Email, &l.Name)
		if err != nil {
			return l, notFound(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_links WHERE kind = 'reset' AND user_id = ?`, l.UserID); err != nil {
			return l, err
		}
		userID = l.UserID
	default:
		return l, fmt.Errorf("team link kind %q", l.Kind)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO team_links (token_hash, kind, workspace_id, email, name, user_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tokenHash, string(l.Kind), l.WorkspaceID, l.Email, l.Name, userID, ms(l.CreatedAt), ms(l.ExpiresAt)); err != nil {
		return l, fmt.Errorf("create team link: %w", err)
	}
	if l.MailLink != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at, to_address)
			VALUES (?, ?, ?, '', ?, ?, ?)`, l.WorkspaceID, "team_"+string(l.Kind), l.MailLink, ms(l.CreatedAt), ms(l.CreatedAt), l.Email); err != nil {
			return l, fmt.Errorf("queue team link email: %w", err)
		}
	}
	l.CreatedAt, l.ExpiresAt = fromMS(ms(l.CreatedAt)), fromMS(ms(l.ExpiresAt))
	return l, tx.Commit()
}

// TeamLink reads a link that has not expired.
func (s *Store) TeamLink(ctx context.Context, tokenHash []byte, now time.Time) (chathook.TeamLink, error) {
	return teamLink(ctx, s.r, tokenHash, now)
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func teamLink(ctx context.Context, q rowQueryer, tokenHash []byte, now time.Time) (chathook.TeamLink, error) {
	l, err := tables.TeamLink(q.QueryRowContext(ctx, `SELECT `+tables.TeamLinkColumns+` FROM team_links l
		WHERE l.token_hash = ? AND l.expires_at > ?`, tokenHash, ms(now)))
	return l, notFound(err)
}

// UseTeamLink uses a link once; see store.Users. The writer's
// transactions are IMMEDIATE, so two uses run one after another and the
// second finds no link.
func (s *Store) UseTeamLink(ctx context.Context, tokenHash []byte, now time.Time, name string, passwordHash []byte) (chathook.User, error) {
	var u chathook.User
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return u, err
	}
	defer tx.Rollback()
	l, err := teamLink(ctx, tx, tokenHash, now)
	if err != nil {
		return u, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM team_links WHERE token_hash = ?`, tokenHash); err != nil {
		return u, err
	}
	switch l.Kind {
	case chathook.LinkInvite:
		if u, err = insertUser(ctx, tx, chathook.User{WorkspaceID: l.WorkspaceID, Email: l.Email, Name: name, CreatedAt: now}, passwordHash); err != nil {
			return u, err
		}
	case chathook.LinkReset:
		if err := setPassword(ctx, tx, l.UserID, passwordHash); err != nil {
			return u, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ? WHERE id = ? AND ? <> ''`, name, l.UserID, name); err != nil {
			return u, err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, l.UserID)); err != nil {
			return u, err
		}
	}
	return u, tx.Commit()
}
