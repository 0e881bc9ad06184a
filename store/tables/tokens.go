package tables

import "github.com/chathook/chathook"

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

// APITokens reads every row of APITokenColumns.
func APITokens(rows Rows) ([]chathook.APIToken, error) {
	var out []chathook.APIToken
	for rows.Next() {
		t, err := APIToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Workspaces reads every row of WorkspaceColumns.
func Workspaces(rows Rows) ([]chathook.Workspace, error) {
	var out []chathook.Workspace
	for rows.Next() {
		ws, err := Workspace(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ws)
	}
	return out, rows.Err()
}

// TokenWorkspaceSQL selects, for the placeholder of a token's hash, the
// token's workspace as TokenWorkspace reads it: only a live token's.
const TokenWorkspaceSQL = `SELECT w.id, w.name, w.owner_name, w.owner_email, w.created_at, t.id, t.last_used_at
	FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
	WHERE t.token_hash = %s AND t.revoked_at = 0`

// TokenWorkspace reads a row of TokenWorkspaceSQL: the workspace, and the
// token's id and last use (unix milliseconds, 0: never).
func TokenWorkspace(row Scanner) (ws chathook.Workspace, tokenID, lastUsed int64, err error) {
	var created int64
	err = row.Scan(&ws.ID, &ws.Name, &ws.OwnerName, &ws.OwnerEmail, &created, &tokenID, &lastUsed)
	ws.CreatedAt = Time(created)
	return ws, tokenID, lastUsed, err
}
