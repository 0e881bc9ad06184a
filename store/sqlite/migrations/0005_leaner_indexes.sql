-- Every index is written on every ingest or attempt, by the one writer that
-- everything waits for. These four have cheaper stand-ins:
--   deliveries_pending: claims walk deliveries_pending_chat; a workspace's
--     waiting deliveries are found chat by chat through it.
--   deliveries_activity: the activity log finds the latest deliveries
--     through the detailed log's index, attempts_log.
--   attempts_at: pruning goes workspace by workspace along attempts_log.
--   messages_chat: a chat's latest message is the last on messages_timeline.
DROP INDEX deliveries_pending;
DROP INDEX deliveries_activity;
DROP INDEX attempts_at;
DROP INDEX messages_chat;
