-- Issue 4: bundles (store/sqlite/migrations/0003_bundles.sql). With a
-- granularity other than none, an accepted message waits (pending) until
-- its window is flushed into a bundle delivery; bundle_id then names that
-- delivery.
ALTER TABLE messages ADD COLUMN pending boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN bundle_id bigint;
CREATE INDEX messages_pending ON messages (workspace_id, chat_id, received_at) WHERE pending;
CREATE INDEX messages_bundle ON messages (bundle_id) WHERE bundle_id IS NOT NULL;

-- A bundle delivery's window, in unix ms, and whether the chat was created
-- inside it.
ALTER TABLE deliveries ADD COLUMN window_start bigint NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN window_end bigint NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN is_new_chat boolean NOT NULL DEFAULT false;
