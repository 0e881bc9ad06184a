package tables

import "github.com/chathook/chathook"

// TeamLinkColumns are read by TeamLink, from team_links aliased l.
const TeamLinkColumns = `l.kind, l.workspace_id, l.email, l.name, coalesce(l.user_id, 0), l.created_at, l.expires_at`

// TeamLink reads a row of TeamLinkColumns.
func TeamLink(row Scanner) (chathook.TeamLink, error) {
	var l chathook.TeamLink
	var created, expires int64
	err := row.Scan(&l.Kind, &l.WorkspaceID, &l.Email, &l.Name, &l.UserID, &created, &expires)
	l.CreatedAt, l.ExpiresAt = Time(created), Time(expires)
	return l, err
}

// ErrTeammateExists is the answer to inviting an email that has a user:
// emails are unique across workspaces, so it cannot be invited again.
var ErrTeammateExists = &chathook.ConflictError{Field: "email",
	Problem: "this email already signs in to chathook"}
