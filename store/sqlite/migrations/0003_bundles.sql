-- Issue 4: bundles. With a granularity other than none, an accepted message
-- waits (pending = 1) until its window is flushed into a bundle delivery;
-- bundle_id then names that delivery.
ALTER TABLE messages ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN bundle_id INTEGER;
CREATE INDEX messages_pending ON messages (workspace_id, chat_id, received_at) WHERE pending = 1;
CREATE INDEX messages_bundle ON messages (bundle_id) WHERE bundle_id IS NOT NULL;

-- A bundle delivery's window, in unix ms, and whether the chat was created
-- inside it.
ALTER TABLE deliveries ADD COLUMN window_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN window_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN is_new_chat INTEGER NOT NULL DEFAULT 0;
