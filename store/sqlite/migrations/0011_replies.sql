-- Issue 15: replies from chathook. A reply is committed with its message
-- in the timeline (messages.uuid = replies.id), then sent through the
-- chat's account by one instance at a time (a lease, as deliveries have).
-- wa_id is WhatsApp's id of the message: chosen before the first attempt
-- for a QR-linked account, so that a second attempt is the same message;
-- a Cloud API number's wamid once Meta took it. attempt_open is 1 from the
-- claim that starts an attempt until its end is recorded: an expired
-- lease with it set is an attempt whose outcome nobody knows.
CREATE TABLE replies (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    chat_id       INTEGER NOT NULL REFERENCES chats (id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    wa_id         TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL,
    sent_by_name  TEXT NOT NULL DEFAULT '',
    sent_by_email TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'queued',
    error         TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    attempt_open  INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER NOT NULL,
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_until   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER NOT NULL DEFAULT 0
);
-- What the senders look for, each chat's oldest queued reply first: small,
-- since a reply leaves it once sent or failed.
CREATE INDEX replies_queued ON replies (chat_id, created_at, id) WHERE state = 'queued';

-- A Cloud API number's access token for Meta's Graph API, which sends its
-- replies. Write-only like app_secret: never shown, wiped when the number
-- is removed.
ALTER TABLE accounts ADD COLUMN access_token TEXT NOT NULL DEFAULT '';
