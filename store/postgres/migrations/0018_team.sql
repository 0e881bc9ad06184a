-- Issue 29: the Team page's one-time links, invitations and password
-- resets (store/sqlite/migrations/0016_team.sql). Only the SHA-256 of a
-- link's token is kept, as for sessions: a copy of the database lets
-- nobody in.
CREATE TABLE team_links (
    token_hash   bytea PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('invite', 'reset')),
    workspace_id text NOT NULL REFERENCES workspaces (id),
    email        text NOT NULL,
    name         text NOT NULL DEFAULT '',
    -- A reset's user: the link dies with the user.
    user_id      bigint REFERENCES users (id) ON DELETE CASCADE,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL
);
-- One working link per person and kind: a new one replaces the older.
-- Emails are matched as users_email matches them (A-Z folded).
-- One invitation per email and workspace: another workspace's invitation
-- of the same address leaves this one's link working.
CREATE UNIQUE INDEX team_links_invite ON team_links (workspace_id, lower(email COLLATE "C")) WHERE kind = 'invite';
CREATE UNIQUE INDEX team_links_reset ON team_links (user_id) WHERE kind = 'reset';
CREATE INDEX team_links_expiry ON team_links (expires_at);

-- An invitation or reset link emailed to the teammate, not the owner: the
-- outbox names its recipient ('' is the workspace's owner). Its reason
-- holds the link until the email is sent, then is blanked.
ALTER TABLE emails ADD COLUMN to_address text NOT NULL DEFAULT '';
