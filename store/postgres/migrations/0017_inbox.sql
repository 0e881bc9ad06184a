-- Issue 29: the chat list by activity, with search and unread counts.

-- Each chat's latest message in timeline order (sent_at, then id), kept
-- by the statement that stores messages and only ever moved forward: the
-- list pages along an index instead of finding every chat's latest.
ALTER TABLE chats ADD COLUMN last_sent_at bigint NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN last_message_id bigint NOT NULL DEFAULT 0;
UPDATE chats c SET last_sent_at = l.sent_at, last_message_id = l.id
FROM (SELECT DISTINCT ON (chat_id) chat_id, sent_at, id FROM messages ORDER BY chat_id, sent_at DESC, id DESC) l
WHERE l.chat_id = c.id;
CREATE INDEX chats_activity ON chats (workspace_id, last_sent_at DESC, last_message_id DESC);
CREATE INDEX chats_account_activity ON chats (workspace_id, account_id, last_sent_at DESC, last_message_id DESC);
-- The list no longer pages by id.
DROP INDEX chats_workspace;

-- The words of a chat's name and of a message's text, lowered and split
-- in Go (package postgres, words.go) so that neither depends on the
-- database's locale; a lexeme each, no positions. The backfill below
-- splits in SQL, which under a C locale neither lowers nor splits
-- non-ASCII letters as Go does: texts stored before this migration may
-- be found less well than later ones.
ALTER TABLE chats ADD COLUMN name_words tsvector NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN words tsvector NOT NULL DEFAULT '';
UPDATE chats SET name_words = array_to_tsvector(array_remove(regexp_split_to_array(lower(full_name), '[^[:alnum:]]+'), ''))
WHERE full_name <> '';
UPDATE messages SET words = array_to_tsvector(array_remove(regexp_split_to_array(lower(text), '[^[:alnum:]]+'), ''))
WHERE text <> '';
CREATE INDEX chats_name_words ON chats USING gin (name_words);
-- Deleted messages are never found, so they leave the index. fastupdate
-- (the default, said here as it matters) queues new entries in a pending
-- list merged in bulk, so ingest does not pay for a posting tree insert
-- per word.
CREATE INDEX messages_words ON messages USING gin (words) WITH (fastupdate = on) WHERE deleted_at = 0;

-- How far each user has read each chat: unread messages are the received
-- ones stored after message_id.
CREATE TABLE read_marks (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id    bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    message_id bigint NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
