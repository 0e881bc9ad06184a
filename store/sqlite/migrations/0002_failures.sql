-- Issue 3: attempts log, auto-disable, owner emails.

ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_error TEXT NOT NULL DEFAULT '';

-- kind: message or bundle; messages: how many messages the payload carries.
ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
ALTER TABLE deliveries ADD COLUMN messages INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deliveries ADD COLUMN last_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN last_duration_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_activity ON deliveries (workspace_id, last_attempt_at) WHERE last_attempt_at > 0;

-- One row per attempt, and one per discarded delivery: the detailed log.
-- outcome: delivered, retrying, failed, discarded.
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    delivery_id  INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    chat_id      INTEGER NOT NULL,
    messages     INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    url          TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    status       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    error        TEXT NOT NULL
);
CREATE INDEX attempts_log ON attempts (workspace_id, at);
CREATE INDEX attempts_at ON attempts (at);

-- The outbox of owner emails, written in the transaction that disabled the
-- webhook, so a disable and its email are never one without the other.
-- state: pending, sent, logged (no SMTP server configured).
CREATE TABLE emails (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    last_error   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL,
    last_failure TEXT NOT NULL DEFAULT '',
    done_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX emails_pending ON emails (due_at) WHERE state = 'pending';
