package tables

import (
	"context"
	"fmt"
	"time"

	"github.com/chathook/chathook"
	"github.com/chathook/chathook/store"
	"github.com/chathook/chathook/store/group"
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

// TokenWorkspacesSQL selects, for %s a test of a token's hash against a
// set of hashes (SQLite: "IN (SELECT unhex(value) FROM json_each(?))",
// PostgreSQL: "= ANY($1)"), each live token's workspace as TokenWorkspace
// reads it (WorkspaceColumns of w, then the token's): one read for the
// tokens of several requests (see group.Reads).
const TokenWorkspacesSQL = `SELECT w.id, w.name, w.owner_name, w.owner_email, w.created_at, t.id, t.last_used_at, t.token_hash
	FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
	WHERE t.token_hash %s AND t.revoked_at = 0`

// TokenUse is a live token as UseToken needs it: its workspace, its id and
// its last use (unix milliseconds, 0: never).
type TokenUse struct {
	Workspace chathook.Workspace
	ID        int64
	LastUsed  int64
}

// UseToken is store.Tokens.UseToken for both stores: the token is looked
// up through tokens, a read shared with the requests that arrive at the
// same time, and record writes its use (at, unix milliseconds) only when
// the recorded one is store.TokenUseEvery old, that is no later than
// stale, so requests do not queue on the database's writes. record must
// check the condition again: of requests at once, one writes.
func UseToken(ctx context.Context, tokens *group.Reads[string, TokenUse], tokenHash []byte, now time.Time,
	record func(ctx context.Context, id, at, stale int64) error) (chathook.Workspace, error) {
	u, ok, err := tokens.Get(ctx, string(tokenHash))
	if err != nil {
		return chathook.Workspace{}, err
	}
	if !ok {
		return chathook.Workspace{}, chathook.ErrUnauthorized
	}
	if stale := now.Add(-store.TokenUseEvery).UnixMilli(); u.LastUsed <= stale {
		if err := record(ctx, u.ID, now.UnixMilli(), stale); err != nil {
			return u.Workspace, fmt.Errorf("record the token's use: %w", err)
		}
	}
	return u.Workspace, nil
}

// TokenWorkspaces reads every row of TokenWorkspacesSQL, by token hash (as
// a string, which a map key can be).
func TokenWorkspaces(rows Rows) (map[string]TokenUse, error) {
	out := map[string]TokenUse{}
	for rows.Next() {
		var u TokenUse
		var hash []byte
		var err error
		if u.Workspace, err = Workspace(rows, &u.ID, &u.LastUsed, &hash); err != nil {
			return nil, err
		}
		out[string(hash)] = u
	}
	return out, rows.Err()
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
