-- Issue 13: several named API tokens per workspace, and first-run setup.

-- Only a token's SHA-256 is kept, as workspaces.token_hash kept it. A
-- revoked token keeps its row (revoked_at > 0), so that its id is never
-- given to another token and revoking it again is no error.
-- last_used_at is kept to the minute (store.TokenUseEvery); 0: never.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace_id, id);

-- Every workspace's token keeps working, as its token named "default".
INSERT INTO api_tokens (workspace_id, name, token_hash, created_at)
    SELECT id, 'default', token_hash, created_at FROM workspaces ORDER BY created_at, id;

-- workspaces.token_hash is no longer read: SQLite cannot drop a UNIQUE
-- column, so a new workspace fills it with its own id (unique, and no
-- token's hash).

-- One-time codes of first-run setup (store.FirstRun): hashes only.
CREATE TABLE setup_codes (
    code_hash  BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL
);
