package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store/tables"
)

// CreateToken stores a new API token's hash; see store.Tokens.
func (s *Store) CreateToken(ctx context.Context, workspaceID, name string, tokenHash []byte, now time.Time) (chathook.APIToken, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return chathook.APIToken{}, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM workspaces WHERE id = ?`, workspaceID).Scan(&n); err != nil {
		return chathook.APIToken{}, err
	}
	if n == 0 {
		return chathook.APIToken{}, fmt.Errorf("workspace %s: %w", workspaceID, chathook.ErrNotFound)
	}
	t, err := tables.APIToken(tx.QueryRowContext(ctx, `INSERT INTO api_tokens (workspace_id, name, token_hash, created_at)
		VALUES (?, ?, ?, ?) RETURNING `+tables.APITokenColumns, workspaceID, name, tokenHash, ms(now)))
	if err != nil {
		return t, fmt.Errorf("create token: %w", err)
	}
	return t, tx.Commit()
}

// Tokens lists a workspace's live tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, workspaceID string) ([]chathook.APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tables.APITokenColumns+` FROM api_tokens
		WHERE workspace_id = ? AND revoked_at = 0 ORDER BY id`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.All(rows, tables.APIToken)
}

// RevokeToken revokes a token of the workspace; again is no error.
func (s *Store) RevokeToken(ctx context.Context, workspaceID string, tokenID int64, now time.Time) error {
	var id int64
	err := s.w.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ? AND workspace_id = ? RETURNING id`, ms(now), tokenID, workspaceID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("token %d: %w", tokenID, chathook.ErrNotFound)
	}
	return err
}

var (
	sqlTokenWorkspaces = fmt.Sprintf(tables.TokenWorkspacesSQL, "IN (SELECT unhex(value) FROM json_each(?))")
	// sqlTokenWorkspace is the read of one token: most reads are (the
	// requests at once mostly carry one integration's token), and the IN
	// list costs a temporary table each time, most of the read's CPU.
	sqlTokenWorkspace = fmt.Sprintf(tables.TokenWorkspacesSQL, "= ?")
)

// readTokens reads the live tokens among hashes, for group.Reads: the
// tokens of the requests that arrived together, in one read.
func (s *Store) readTokens(ctx context.Context, hashes []string) (map[string]tables.TokenUse, error) {
	var rows *sql.Rows
	var err error
	if len(hashes) == 1 {
		rows, err = s.rs.get(sqlTokenWorkspace).QueryContext(ctx, []byte(hashes[0]))
	} else {
		var list []byte
		if list, err = json.Marshal(hexes(hashes)); err != nil {
			return nil, err
		}
		rows, err = s.rs.get(sqlTokenWorkspaces).QueryContext(ctx, string(list))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return tables.TokenWorkspaces(rows)
}

func hexes(hashes []string) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = hex.EncodeToString([]byte(h))
	}
	return out
}

// UseToken resolves a live token and records its use; see
// tables.UseToken.
func (s *Store) UseToken(ctx context.Context, tokenHash []byte, now time.Time) (chathook.Workspace, error) {
	return tables.UseToken(ctx, s.tokens, tokenHash, now, func(ctx context.Context, id, at, stale int64) error {
		_, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at <= ?`, at, id, stale)
		return err
	})
}
