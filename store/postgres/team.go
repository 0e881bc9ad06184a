package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// Teammates lists a workspace's users, oldest first.
func (s *Store) Teammates(ctx context.Context, workspaceID string) ([]chathook.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE u.workspace_id = $1 ORDER BY u.created_at, u.id`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.All(rows, func(row tables.Scanner) (chathook.User, error) { return tables.User(row) })
}

// DeleteUser removes a user and its sessions in one transaction; its
// reset links and read marks go by ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, workspaceID string, userID int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE id = $1 AND workspace_id = $2)`,
			userID, workspaceID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1 AND workspace_id = $2`, userID, workspaceID)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %d: %w", userID, chathook.ErrNotFound)
		}
		return nil
	})
}

// CreateTeamLink stores a link, replacing the older one of its person;
// see store.Users. Two invitations of one email at once: the unique
// index lets one insert win, and the other waits for it and then
// replaces it (ON CONFLICT DO UPDATE), as the later one would anyway.
func (s *Store) CreateTeamLink(ctx context.Context, tokenHash []byte, l chathook.TeamLink) (chathook.TeamLink, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM team_links WHERE expires_at <= $1`, ms(l.CreatedAt)); err != nil {
			return err
		}
		var userID *int64
		conflict := `(workspace_id, ` + emailKey + `) WHERE kind = 'invite'`
		switch l.Kind {
		case chathook.LinkInvite:
			var taken bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE `+emailKey+` = lower($1::text COLLATE "C"))`,
				l.Email).Scan(&taken); err != nil {
				return err
			}
			if taken {
				return tables.ErrTeammateExists
			}
		case chathook.LinkReset:
			if err := tx.QueryRow(ctx, `SELECT email, name FROM users WHERE id = $1 AND workspace_id = $2`, l.UserID, l.WorkspaceID).
				Scan(&l.Email, &l.Name); err != nil {
				return noRows(err, chathook.ErrNotFound)
			}
			userID, conflict = &l.UserID, `(user_id) WHERE kind = 'reset'`
		default:
			return fmt.Errorf("team link kind %q", l.Kind)
		}
		_, err := tx.Exec(ctx, `INSERT INTO team_links (token_hash, kind, workspace_id, email, name, user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT `+conflict+` DO UPDATE SET token_hash = excluded.token_hash, email = excluded.email, name = excluded.name, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			tokenHash, string(l.Kind), l.WorkspaceID, l.Email, l.Name, userID, ms(l.CreatedAt), ms(l.ExpiresAt))
		if err != nil {
			return fmt.Errorf("create team link: %w", err)
		}
		if l.MailLink != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO emails (workspace_id, kind, reason, last_error, created_at, due_at, to_address)
				VALUES ($1, $2, $3, '', $4, $4, $5)`, l.WorkspaceID, "team_"+string(l.Kind), l.MailLink, ms(l.CreatedAt), l.Email); err != nil {
				return fmt.Errorf("queue team link email: %w", err)
			}
		}
		return nil
	})
	l.CreatedAt, l.ExpiresAt = fromMS(ms(l.CreatedAt)), fromMS(ms(l.ExpiresAt))
	return l, err
}

// TeamLink reads a link that has not expired.
func (s *Store) TeamLink(ctx context.Context, tokenHash []byte, now time.Time) (chathook.TeamLink, error) {
	l, err := tables.TeamLink(s.pool.QueryRow(ctx, `SELECT `+tables.TeamLinkColumns+` FROM team_links l
		WHERE l.token_hash = $1 AND l.expires_at > $2`, tokenHash, ms(now)))
	return l, noRows(err, chathook.ErrNotFound)
}

// UseTeamLink uses a link once; see store.Users. The link's row is
// deleted first, with RETURNING: of two uses at once the second waits
// for the first's delete and then finds nothing.
func (s *Store) UseTeamLink(ctx context.Context, tokenHash []byte, now time.Time, name string, passwordHash []byte) (chathook.User, error) {
	var u chathook.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := tables.TeamLink(tx.QueryRow(ctx, `DELETE FROM team_links l WHERE l.token_hash = $1 AND l.expires_at > $2
			RETURNING `+tables.TeamLinkColumns, tokenHash, ms(now)))
		if err != nil {
			return noRows(err, chathook.ErrNotFound)
		}
		switch l.Kind {
		case chathook.LinkInvite:
			u, err = insertUser(ctx, tx, chathook.User{WorkspaceID: l.WorkspaceID, Email: l.Email, Name: name, CreatedAt: now}, passwordHash)
			return err
		default:
			if err := setPassword(ctx, tx, l.UserID, passwordHash); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET name = $1 WHERE id = $2 AND $1 <> ''`, name, l.UserID); err != nil {
				return err
			}
			u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, l.UserID))
			return err
		}
	})
	return u, err
}
