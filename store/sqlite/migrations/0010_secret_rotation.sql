-- Issue 13: secret rotation. After a rotation the previous secret signs
-- every POST too, beside the new one, until previous_secret_until (unix
-- ms; 0 when there is no previous secret).
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_secret_until INTEGER NOT NULL DEFAULT 0;

-- Issue 13: recover (in this file so that the issue has one migration per
-- store). retry_from is how many attempts a delivery had when it was last
-- recovered: the retry schedule starts again from there, while attempts
-- keeps counting for the log.
ALTER TABLE deliveries ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 0;
-- What a recovery looks for: a workspace's failed and discarded deliveries
-- by when they were queued. Partial, so that it is written only when a
-- delivery ends unsuccessfully or is recovered, never on the hot path.
CREATE INDEX deliveries_recoverable ON deliveries (workspace_id, created_at) WHERE state IN ('failed', 'discarded');
