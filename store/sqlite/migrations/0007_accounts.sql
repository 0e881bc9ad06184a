-- Issue 11: WhatsApp accounts linked by QR code. An account has a kind
-- (api: created by the ingest API; web: a linked device; cloud_api), a
-- web account's connection state and device JID, and the lease by which
-- one instance at a time holds its connection (two connections of one
-- linked device make WhatsApp drop both). Times are unix ms; 0: never.
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE accounts ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN jid TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN last_message_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

-- A chat created by a history message (from before the account was
-- linked) is history_only until its first live message, which tells the
-- receiver about it (is_new_chat).
ALTER TABLE chats ADD COLUMN history_only INTEGER NOT NULL DEFAULT 0;

-- A QR-code or pairing-code linking under way, so that any instance can
-- show it. state: waiting, paired, failed.
CREATE TABLE pairings (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    email        TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    qr           TEXT NOT NULL DEFAULT '',
    code         TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    account_id   INTEGER NOT NULL DEFAULT 0,
    err          TEXT NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);
