-- Issue 11: the schema of store/sqlite/migrations/0007_accounts.sql in
-- PostgreSQL types.
ALTER TABLE accounts ADD COLUMN kind text NOT NULL DEFAULT 'api';
ALTER TABLE accounts ADD COLUMN state text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN jid text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN last_message_at bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN created_at bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN lease_owner text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;

ALTER TABLE chats ADD COLUMN history_only boolean NOT NULL DEFAULT false;

CREATE TABLE pairings (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id),
    email        text NOT NULL DEFAULT '',
    phone        text NOT NULL DEFAULT '',
    qr           text NOT NULL DEFAULT '',
    code         text NOT NULL DEFAULT '',
    state        text NOT NULL,
    account_id   bigint NOT NULL DEFAULT 0,
    err          text NOT NULL DEFAULT '',
    updated_at   bigint NOT NULL
);
