-- Issue 28: WhatsApp in depth (store.Facts). See package tables (facts.go)
-- for what each column means; store/postgres has the same.
ALTER TABLE accounts ADD COLUMN state_until INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN status_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reacted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE message_edits (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX message_edits_message ON message_edits (message_id, at);

CREATE TABLE reactions (
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    sender_key   TEXT NOT NULL,
    sender_name  TEXT NOT NULL DEFAULT '',
    sender_phone TEXT NOT NULL DEFAULT '',
    reaction     TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (message_id, sender_key)
);

CREATE TABLE fact_ids (
    account_id INTEGER NOT NULL,
    fact_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, fact_id)
) WITHOUT ROWID;
