-- Issue 26: several endpoints per workspace (SPEC 7). The outbound webhook
-- becomes the endpoint 'outbound' of its workspace; others are 'ep_…'.
-- id is the endpoint's key, which deliveries, attempts and bundles name;
-- slot (0 for outbound, up to 19) tells a chat's lanes apart: a lane is
-- one chat's deliveries to one endpoint, in order (lane = chat_id +
-- slot * 2^44). A deleted endpoint keeps its row (deleted_at > 0) for its
-- log, and gives up its slot.
CREATE TABLE endpoints (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id          TEXT NOT NULL REFERENCES workspaces (id),
    public_id             TEXT NOT NULL,
    slot                  INTEGER NOT NULL,
    url                   TEXT NOT NULL DEFAULT '',
    description           TEXT NOT NULL DEFAULT '',
    events                TEXT NOT NULL DEFAULT '["message:new"]',
    format                TEXT NOT NULL DEFAULT 'seed',
    accounts              TEXT NOT NULL DEFAULT '[]',
    enabled               INTEGER NOT NULL DEFAULT 1,
    granularity           TEXT NOT NULL DEFAULT 'none',
    secret                TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    disabled_reason       TEXT NOT NULL DEFAULT '',
    disabled_at           INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT NOT NULL DEFAULT '',
    previous_secret       TEXT NOT NULL DEFAULT '',
    previous_secret_until INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    deleted_at            INTEGER NOT NULL DEFAULT 0
);
INSERT INTO endpoints (workspace_id, public_id, slot, url, enabled, granularity, secret, consecutive_failures, disabled_reason,
        disabled_at, last_error, previous_secret, previous_secret_until, created_at, updated_at)
    SELECT w.workspace_id, 'outbound', 0, w.url, w.enabled, w.granularity, w.secret, w.consecutive_failures, w.disabled_reason,
        w.disabled_at, w.last_error, w.previous_secret, w.previous_secret_until, ws.created_at, w.updated_at
    FROM webhooks w JOIN workspaces ws ON ws.id = w.workspace_id ORDER BY ws.created_at, ws.id;
DROP TABLE webhooks;
CREATE UNIQUE INDEX endpoints_public ON endpoints (workspace_id, public_id);
CREATE UNIQUE INDEX endpoints_slot ON endpoints (workspace_id, slot) WHERE deleted_at = 0;

-- A delivery is of one endpoint (endpoint_id) and in one lane. event_id,
-- the webhook-id header, is no longer unique: one event goes to every
-- endpoint it matches with the same id. type is a KindEvent delivery's
-- event type, data what its event says that is not read from its chat or
-- message (JSON; '' for none). SQLite cannot drop a UNIQUE constraint: the table is made
-- again.
CREATE TABLE deliveries_new (
    id               INTEGER PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id),
    endpoint_id      INTEGER NOT NULL,
    lane             INTEGER NOT NULL,
    chat_id          INTEGER NOT NULL,
    message_id       INTEGER REFERENCES messages (id),
    event_id         TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'message',
    type             TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    retry_from       INTEGER NOT NULL DEFAULT 0,
    messages         INTEGER NOT NULL DEFAULT 1,
    due_at           INTEGER NOT NULL,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    last_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_duration_ms INTEGER NOT NULL DEFAULT 0,
    window_start     INTEGER NOT NULL DEFAULT 0,
    window_end       INTEGER NOT NULL DEFAULT 0,
    is_new_chat      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO deliveries_new (id, workspace_id, endpoint_id, lane, chat_id, message_id, event_id, kind, state, attempts, retry_from,
        messages, due_at, lease_until, lease_owner, created_at, finished_at, last_status, last_error, last_attempt_at,
        last_duration_ms, window_start, window_end, is_new_chat)
    SELECT d.id, d.workspace_id, e.id, d.chat_id, d.chat_id, d.message_id, d.event_id, d.kind, d.state, d.attempts, d.retry_from,
        d.messages, d.due_at, d.lease_until, d.lease_owner, d.created_at, d.finished_at, d.last_status, d.last_error, d.last_attempt_at,
        d.last_duration_ms, d.window_start, d.window_end, d.is_new_chat
    FROM deliveries d JOIN endpoints e ON e.workspace_id = d.workspace_id AND e.public_id = 'outbound';
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
-- Claims walk the lanes with pending deliveries (see sqlHeads).
CREATE INDEX deliveries_pending_lane ON deliveries (lane, id) WHERE state = 'pending';
CREATE INDEX deliveries_recoverable ON deliveries (endpoint_id, created_at) WHERE state IN ('failed', 'discarded');

-- The log is kept per endpoint.
ALTER TABLE attempts ADD COLUMN endpoint_id INTEGER NOT NULL DEFAULT 0;
UPDATE attempts SET endpoint_id = (SELECT e.id FROM endpoints e WHERE e.workspace_id = attempts.workspace_id AND e.public_id = 'outbound');
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, at);
DROP INDEX attempts_log;

-- A "webhook_disabled" email names its endpoint ('' for outbound).
ALTER TABLE emails ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE emails ADD COLUMN endpoint_name TEXT NOT NULL DEFAULT '';

-- Messages waiting for a bundle, per endpoint (several endpoints may
-- bundle), and the messages of each bundle delivery. They take over
-- messages.pending and messages.bundle_id, which are no longer read.
CREATE TABLE waiting (
    endpoint_id INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, chat_id, message_id)
) WITHOUT ROWID;
CREATE TABLE bundled (
    delivery_id INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, message_id)
) WITHOUT ROWID;
INSERT INTO waiting (endpoint_id, chat_id, message_id, received_at)
    SELECT e.id, m.chat_id, m.id, m.received_at FROM messages m
    JOIN endpoints e ON e.workspace_id = m.workspace_id AND e.public_id = 'outbound' WHERE m.pending = 1;
INSERT INTO bundled (delivery_id, message_id) SELECT bundle_id, id FROM messages WHERE bundle_id IS NOT NULL;
UPDATE messages SET pending = 0, bundle_id = NULL WHERE pending = 1 OR bundle_id IS NOT NULL;
DROP INDEX messages_pending;
DROP INDEX messages_bundle;

-- What endpoints were last told of an account (whatsapp:account:connected
-- or :disconnected): 'connected', 'disconnected' or '' (nothing yet), so
-- that each is told once per change, and a reconnect within minutes tells
-- nothing. state_at is when the account entered its state.
ALTER TABLE accounts ADD COLUMN announced TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN state_at INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET announced = 'connected' WHERE state = 'connected';
CREATE INDEX accounts_unreachable ON accounts (state_at) WHERE announced = 'connected' AND state = 'connecting';
