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

// CreateToken stores a new API token's hash; see store.Tokens.
func (s *Store) CreateToken(ctx context.Context, workspaceID, name string, tokenHash []byte, now time.Time) (chathook.APIToken, error) {
	t, err := tables.APIToken(s.pool.QueryRow(ctx, `INSERT INTO api_tokens (workspace_id, name, token_hash, created_at)
		VALUES ($1, $2, $3, $4) RETURNING `+tables.APITokenColumns, workspaceID, name, tokenHash, ms(now)))
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23503": // foreign_key_violation
		return t, fmt.Errorf("workspace %s: %w", workspaceID, chathook.ErrNotFound)
	case err != nil:
		return t, fmt.Errorf("create token: %w", err)
	}
	return t, nil
}

// Tokens lists a workspace's live tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, workspaceID string) ([]chathook.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tables.APITokenColumns+` FROM api_tokens
		WHERE workspace_id = $1 AND revoked_at = 0 ORDER BY id`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.All(rows, tables.APIToken)
}

// RevokeToken revokes a token of the workspace; again is no error. The
// UPDATE commits before it returns, and UseToken reads the row on every
// request, so every instance refuses the token from then on.
func (s *Store) RevokeToken(ctx context.Context, workspaceID string, tokenID int64, now time.Time) error {
	var id int64
	err := s.pool.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN $1 ELSE revoked_at END
		WHERE id = $2 AND workspace_id = $3 RETURNING id`, ms(now), tokenID, workspaceID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("token %d: %w", tokenID, chathook.ErrNotFound)
	}
	return err
}

var sqlTokenWorkspaces = fmt.Sprintf(tables.TokenWorkspacesSQL, "= ANY($1)")

// readTokens reads the live tokens among hashes, for group.Reads: the
// tokens of the requests that arrived together, in one round trip.
func (s *Store) readTokens(ctx context.Context, hashes []string) (map[string]tables.TokenUse, error) {
	list := make([][]byte, len(hashes))
	for i, h := range hashes {
		list[i] = []byte(h)
	}
	rows, err := s.pool.Query(ctx, sqlTokenWorkspaces, list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.TokenWorkspaces(rows)
}

// UseToken resolves a live token and records its use; see
// tables.UseToken.
func (s *Store) UseToken(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Workspace, error) {
	return tables.UseToken(ctx, s.tokens, tokenHash, now, func(ctx context.Context, id, at, stale int64) error {
		_, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at <= $3`, at, id, stale)
		return err
	})
}
