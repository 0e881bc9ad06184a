package tables

import (
	"fmt"

	"github.com/chathook/chathook"
)

// APITokenColumns are read by APIToken, from api_tokens.
const APITokenColumns = `id, workspace_id, name, created_at, last_used_at`

// APIToken reads a row of APITokenColumns.
func APIToken(row Scanner) (chathook.APIToken, error) {
	var t chathook.APIToken
	var created, used int64
	err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &created, &used)
	t.CreatedAt, t.LastUsedAt = Time(created), OptionalTime(used)
	return t, err
}

// TokenWorkspaceSQL selects, for the placeholder of a token's hash, the
// token's workspace as TokenWorkspace reads it (WorkspaceColumns of w,
// then the token's): only a live token's.
const TokenWorkspaceSQL = `SELECT w.id, w.name, w.owner_name, w.owner_email, w.created_at, t.id, t.last_used_at
	FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
	WHERE t.token_hash = %s AND t.revoked_at = 0`

// TokenWorkspace reads a row of TokenWorkspaceSQL: the workspace, and the
// token's id and last use (unix milliseconds, 0: never).
func TokenWorkspace(row Scanner) (ws chathook.Workspace, tokenID, lastUsed int64, err error) {
	ws, err = Workspace(row, &tokenID, &lastUsed)
	return ws, tokenID, lastUsed, err
}

// SetupCodeSQL selects, for the placeholder of a setup code's hash,
// whether a workspace exists and whether the code does, as SetupCode
// reads them.
const SetupCodeSQL = `SELECT EXISTS (SELECT 1 FROM workspaces), EXISTS (SELECT 1 FROM setup_codes WHERE code_hash = %s)`

// SetupCode reads a row of SetupCodeSQL as store.FirstRun's
// CheckSetupCode answers: nil for a valid code, chathook.ErrConflict
// when setup is closed, chathook.ErrNotFound when there is no such code.
func SetupCode(row Scanner) error {
	var hasWorkspace, hasCode bool
	if err := row.Scan(&hasWorkspace, &hasCode); err != nil {
		return err
	}
	switch {
	case hasWorkspace:
		return fmt.Errorf("setup is closed: %w", chathook.ErrConflict)
	case !hasCode:
		return fmt.Errorf("setup code: %w", chathook.ErrNotFound)
	}
	return nil
}
