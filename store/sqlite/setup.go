package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/tables"
)

// AddSetupCode stores a setup code's hash while no workspace exists.
func (s *Store) AddSetupCode(ctx context.Context, codeHash []byte, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO setup_codes (code_hash, created_at)
		SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM workspaces)`, codeHash, ms(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("a workspace exists: %w", chathook.ErrConflict)
	}
	return nil
}

// CheckSetupCode tells whether a setup code is valid; see store.FirstRun.
func (s *Store) CheckSetupCode(ctx context.Context, codeHash []byte) error {
	return tables.SetupCode(s.r.QueryRowContext(ctx, sqlSetupCode, codeHash))
}

var sqlSetupCode = fmt.Sprintf(tables.SetupCodeSQL, "?")

// Setup creates the first workspace and its owner. The writer is one
// connection and its transactions are IMMEDIATE, so setups run one after
// another: the second finds a workspace and no code.
func (s *Store) Setup(ctx context.Context, codeHash []byte, first store.FirstWorkspace) (chathook.Workspace, chathook.User, error) {
	ws, u := first.Workspace, first.Owner
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ws, u, err
	}
	defer tx.Rollback()
	if err := tables.SetupCode(tx.QueryRowContext(ctx, sqlSetupCode, codeHash)); err != nil {
		return ws, u, err
	}
	if err := createWorkspace(ctx, tx, ws, first.Secret); err != nil {
		return ws, u, err
	}
	u.WorkspaceID = ws.ID
	if err := tx.QueryRowContext(ctx, `INSERT INTO users (workspace_id, email, name, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, u.WorkspaceID, u.Email, u.Name, first.PasswordHash, ms(u.CreatedAt)).Scan(&u.ID); err != nil {
		return ws, u, fmt.Errorf("create owner: %w", err)
	}
	ws.CreatedAt, u.CreatedAt = fromMS(ms(ws.CreatedAt)), fromMS(ms(u.CreatedAt))
	return ws, u, tx.Commit()
}

// Workspaces returns every workspace, oldest first.
func (s *Store) Workspaces(ctx context.Context) ([]chathook.Workspace, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tables.WorkspaceColumns+` FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.Workspaces(rows)
}
