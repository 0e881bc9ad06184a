-- Issue 29: the Team page's one-time links, invitations and password
-- resets. Only the SHA-256 of a link's token is kept, as for sessions: a
-- copy of the database lets nobody in.
CREATE TABLE team_links (
    token_hash   BLOB PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('invite', 'reset')),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    email        TEXT NOT NULL COLLATE NOCASE,
    name         TEXT NOT NULL DEFAULT '',
    -- A reset's user: the link dies with the user.
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
-- One working link per person and kind: a new one replaces the older.
-- One invitation per email and workspace: another workspace's invitation
-- of the same address leaves this one's link working (the first taken
-- wins the email; the other then answers that it is taken).
CREATE UNIQUE INDEX team_links_invite ON team_links (workspace_id, email) WHERE kind = 'invite';
CREATE UNIQUE INDEX team_links_reset ON team_links (user_id) WHERE kind = 'reset';
CREATE INDEX team_links_expiry ON team_links (expires_at);

-- An invitation or reset link emailed to the teammate, not the owner: the
-- outbox names its recipient ('' is the workspace's owner). Its reason
-- holds the link until the email is sent, then is blanked.
ALTER TABLE emails ADD COLUMN to_address TEXT NOT NULL DEFAULT '';
