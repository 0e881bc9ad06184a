-- Issue 13: the schema of store/sqlite/migrations/0010_secret_rotation.sql
-- in PostgreSQL types: the previous secret of a rotation and until when it
-- signs; retry_from and the index of recovery.
ALTER TABLE webhooks ADD COLUMN previous_secret text NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_secret_until bigint NOT NULL DEFAULT 0;

ALTER TABLE deliveries ADD COLUMN retry_from integer NOT NULL DEFAULT 0;
CREATE INDEX deliveries_recoverable ON deliveries (workspace_id, created_at) WHERE state IN ('failed', 'discarded');
