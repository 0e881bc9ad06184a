-- Issue 27: attachments (SPEC 8). A message counts its attachments
-- (messages.attachments), so that a claim or a page reads them only for
-- messages that have some.
ALTER TABLE messages ADD COLUMN attachments INTEGER NOT NULL DEFAULT 0;

-- One row per attachment, in its message's order (position). state:
-- '' (no file of chathook's: a location, a contact card, an ingest API
-- url), pending (to download: due_at, attempts, lease), stored (blob),
-- failed (error), deleted (retention passed). source is what the source
-- needs to download it again (its own JSON); link_key signs its links.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    account_id   INTEGER NOT NULL,
    message_id   INTEGER NOT NULL REFERENCES messages (id),
    position     INTEGER NOT NULL,
    type         TEXT NOT NULL,
    mime_type    TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    file_name    TEXT NOT NULL DEFAULT '',
    sha256       TEXT NOT NULL DEFAULT '',
    width        INTEGER NOT NULL DEFAULT 0,
    height       INTEGER NOT NULL DEFAULT 0,
    duration_s   INTEGER NOT NULL DEFAULT 0,
    latitude     REAL NOT NULL DEFAULT 0,
    longitude    REAL NOT NULL DEFAULT 0,
    name         TEXT NOT NULL DEFAULT '',
    address      TEXT NOT NULL DEFAULT '',
    vcard        TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    blob         TEXT NOT NULL DEFAULT '',
    link_key     BLOB NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL DEFAULT 0,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    stored_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_message ON attachments (message_id, position);
CREATE INDEX attachments_pending ON attachments (due_at, id) WHERE state = 'pending';
CREATE INDEX attachments_stored ON attachments (stored_at, id) WHERE state = 'stored';
CREATE INDEX attachments_blob ON attachments (blob) WHERE blob <> '';
-- Held deliveries (store.HeldDue) are found by their message.
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL AND state = 'pending';

-- Files, in chunks (store.Blobs): a blob is done once its last chunk is
-- written; one begun long ago that no attachment names is an orphan.
CREATE TABLE blobs (
    id         INTEGER PRIMARY KEY,
    size       INTEGER NOT NULL DEFAULT 0,
    done       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE blob_chunks (
    blob_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (blob_id, seq)
);
