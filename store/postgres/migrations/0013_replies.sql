-- Issue 15: the schema of store/sqlite/migrations/0011_replies.sql in
-- PostgreSQL types: replies from chathook, and a Cloud API number's access
-- token.
CREATE TABLE replies (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces (id),
    chat_id       bigint NOT NULL REFERENCES chats (id),
    account_id    bigint NOT NULL REFERENCES accounts (id),
    wa_id         text NOT NULL DEFAULT '',
    text          text NOT NULL,
    sent_by_name  text NOT NULL DEFAULT '',
    sent_by_email text NOT NULL DEFAULT '',
    state         text NOT NULL DEFAULT 'queued',
    error         text NOT NULL DEFAULT '',
    attempts      integer NOT NULL DEFAULT 0,
    attempt_open  boolean NOT NULL DEFAULT false,
    due_at        bigint NOT NULL,
    lease_owner   text NOT NULL DEFAULT '',
    lease_until   bigint NOT NULL DEFAULT 0,
    created_at    bigint NOT NULL,
    sent_at       bigint NOT NULL DEFAULT 0
);
CREATE INDEX replies_queued ON replies (chat_id, created_at, id) WHERE state = 'queued';

ALTER TABLE accounts ADD COLUMN access_token text NOT NULL DEFAULT '';
