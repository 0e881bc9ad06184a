package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
	"github.com/jackc/pgx/v5"
)

// lockSetup makes setups, and the codes added beside them, take turns
// across every instance: under READ COMMITTED, two setups with two
// different codes would otherwise each see no workspace and both create
// one. Whoever holds the lock sees every workspace committed before it.
const lockSetup = `LOCK TABLE setup_codes IN EXCLUSIVE MODE`

// AddSetupCode stores a setup code's hash while no workspace exists.
func (s *Store) AddSetupCode(ctx context.Context, codeHash []byte, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSetup); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO setup_codes (code_hash, created_at)
			SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM workspaces)`, codeHash, ms(now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("a workspace exists: %w", chathook.ErrConflict)
		}
		return nil
	})
}

// CheckSetupCode tells whether a setup code is valid; see store.FirstRun.
func (s *Store) CheckSetupCode(ctx context.Context, codeHash []byte) error {
	return tables.SetupCode(s.pool.QueryRow(ctx, sqlSetupCode, codeHash))
}

var sqlSetupCode = fmt.Sprintf(tables.SetupCodeSQL, "$1")

// Setup creates the first workspace and its owner under lockSetup: of
// setups at once, the first creates the workspace and deletes every code;
// the others then find a workspace and answer ErrConflict.
func (s *Store) Setup(ctx context.Context, codeHash []byte, first store.FirstWorkspace) (chathook.Workspace, chathook.User, error) {
	ws, u := first.Workspace, first.Owner
	u.WorkspaceID = ws.ID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSetup); err != nil {
			return err
		}
		if err := tables.SetupCode(tx.QueryRow(ctx, sqlSetupCode, codeHash)); err != nil {
			return err
		}
		if err := createWorkspace(ctx, tx, ws, first.Secret); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO users (workspace_id, email, name, password_hash, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, u.WorkspaceID, u.Email, u.Name, first.PasswordHash, ms(u.CreatedAt)).Scan(&u.ID); err != nil {
			return fmt.Errorf("create owner: %w", err)
		}
		return nil
	})
	ws.CreatedAt, u.CreatedAt = fromMS(ms(ws.CreatedAt)), fromMS(ms(u.CreatedAt))
	return ws, u, err
}

// Workspaces returns every workspace, oldest first.
func (s *Store) Workspaces(ctx context.Context) ([]chathook.Workspace, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tables.WorkspaceColumns+` FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Workspaces(rows)
}
