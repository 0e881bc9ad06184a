-- Issue 5: the web UI's people, sessions and page reads.

-- A person who signs in. email is unique across workspaces (sign-in asks
-- for no workspace) and compared without regard to case.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    password_hash BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_workspace ON users (workspace_id);

-- Only the SHA-256 of a session token is kept: a copy of the database
-- signs nobody in.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The chat list pages through a workspace's chats by id; a chat page
-- through one chat's timeline by (timestamp, id).
CREATE INDEX chats_workspace ON chats (workspace_id, id);
CREATE INDEX messages_timeline ON messages (chat_id, sent_at, id);
