-- Times are unix milliseconds (UTC) in INTEGER columns, the same in every store.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    owner_name  TEXT NOT NULL DEFAULT '',
    owner_email TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhooks (
    workspace_id         TEXT PRIMARY KEY REFERENCES workspaces (id),
    url                  TEXT NOT NULL DEFAULT '',
    enabled              INTEGER NOT NULL DEFAULT 1,
    granularity          TEXT NOT NULL DEFAULT 'none',
    secret               TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_reason      TEXT NOT NULL DEFAULT '',
    updated_at           INTEGER NOT NULL
);

CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    phone        TEXT NOT NULL,
    full_name    TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    UNIQUE (workspace_id, phone)
);

-- AUTOINCREMENT: a chat id is never reused, even after a delete, because
-- it is in URLs that receivers keep.
CREATE TABLE chats (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id),
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    external_id       TEXT NOT NULL,
    full_name         TEXT NOT NULL DEFAULT '',
    is_group          INTEGER NOT NULL DEFAULT 0,
    phone             TEXT NOT NULL DEFAULT '',
    responsible_name  TEXT NOT NULL DEFAULT '',
    responsible_email TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    UNIQUE (account_id, external_id)
);
-- Chat ids start at 10000001, eight digits like the product's.
INSERT INTO sqlite_sequence (name, seq) VALUES ('chats', 10000000);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    chat_id         INTEGER NOT NULL REFERENCES chats (id),
    message_id      TEXT NOT NULL,
    uuid            TEXT NOT NULL UNIQUE,
    direction       TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    sender_name     TEXT NOT NULL,
    sender_phone    TEXT NOT NULL,
    recipient_name  TEXT NOT NULL,
    recipient_phone TEXT NOT NULL,
    text            TEXT NOT NULL,
    is_new_chat     INTEGER NOT NULL,
    skip_reason     TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, message_id)
);
CREATE INDEX messages_chat ON messages (chat_id, id);

-- One row per payload to POST. state: pending, delivered, failed.
-- A pending row with lease_until in the future is in flight.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    chat_id      INTEGER NOT NULL,
    message_id   INTEGER REFERENCES messages (id),
    event_id     TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE state = 'pending';
CREATE INDEX deliveries_pending_chat ON deliveries (chat_id, id) WHERE state = 'pending';
