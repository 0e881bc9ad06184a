-- Issue 29: the chat list by activity, its search and unread counts
-- (store.Pages.Chats, MarkRead).

-- A chat's latest message in timeline order (sent_at, then id), kept on
-- its row so that a page of the list is a range of chats_activity. The
-- triggers below keep it: every path that stores or removes a message
-- (ingest, replies) moves it, and only forward on insert.
ALTER TABLE chats ADD COLUMN last_sent_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN last_message_id INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET (last_sent_at, last_message_id) = (
    SELECT m.sent_at, m.id FROM messages m WHERE m.chat_id = chats.id ORDER BY m.sent_at DESC, m.id DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = chats.id);
-- phone: a search by phone digits walks the index alone, not the rows.
CREATE INDEX chats_activity ON chats (workspace_id, last_sent_at, last_message_id, phone);
CREATE INDEX chats_account_activity ON chats (account_id, last_sent_at, last_message_id, phone);
-- The list no longer pages by id.
DROP INDEX chats_workspace;

CREATE TRIGGER messages_last AFTER INSERT ON messages BEGIN
    UPDATE chats SET last_sent_at = new.sent_at, last_message_id = new.id
    WHERE id = new.chat_id AND (last_sent_at, last_message_id) < (new.sent_at, new.id);
END;
-- A reply is stored when queued and gets its send time when sent: the
-- chat moves with it (or its latest is that reply, at its new time).
CREATE TRIGGER messages_last_moved AFTER UPDATE OF sent_at ON messages WHEN old.sent_at IS NOT new.sent_at BEGIN
    UPDATE chats SET last_sent_at = new.sent_at, last_message_id = new.id
    WHERE id = new.chat_id AND (last_message_id = new.id OR (last_sent_at, last_message_id) < (new.sent_at, new.id));
END;
CREATE TRIGGER messages_last_gone AFTER DELETE ON messages BEGIN
    UPDATE chats SET (last_sent_at, last_message_id) = (
        SELECT coalesce(max(m.sent_at), 0), coalesce(max(m.id), 0) FROM (
            SELECT sent_at, id FROM messages WHERE chat_id = old.chat_id ORDER BY sent_at DESC, id DESC LIMIT 1) m)
    WHERE id = old.chat_id AND last_message_id = old.id;
END;

-- How far each user has read each chat: a received message with a
-- greater id is unread. Marks only move forward (see MarkRead).
CREATE TABLE chat_reads (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, chat_id)
) WITHOUT ROWID;
-- Unread counts stop at store.UnreadCap entries of a chat's received
-- messages after the mark: a range of this index, never the rows.
CREATE INDEX messages_received ON messages (chat_id, id) WHERE direction = 'received';

-- Search. Texts of messages not deleted, and chat names, as word lists
-- folded by unicode61 (case and diacritics, every script). Contentless:
-- the text is in messages and chats already; detail=none: a search
-- only asks which rows hold words beginning so, never where. The prefix
-- indexes keep a search for a common word (2 to 6 letters typed) one
-- read of its list: without them FTS5 merges the lists of every word
-- the prefix begins, whole, however few rows the page needs.
CREATE VIRTUAL TABLE messages_fts USING fts5 (text, content = '', contentless_delete = 1, detail = none, prefix = '2 3 4 5 6',
    tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE chats_fts USING fts5 (name, content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE deleted_at = 0 AND text <> '';
INSERT INTO chats_fts (rowid, name) SELECT id, full_name FROM chats;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.text <> '' BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
-- An edit is found by its current text; a deleted message not at all.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted_at ON messages
WHEN old.text IS NOT new.text OR old.deleted_at IS NOT new.deleted_at BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
    INSERT INTO messages_fts (rowid, text) SELECT new.id, new.text WHERE new.deleted_at = 0 AND new.text <> '';
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.id;
END;
CREATE TRIGGER chats_fts_insert AFTER INSERT ON chats BEGIN
    INSERT INTO chats_fts (rowid, name) VALUES (new.id, new.full_name);
END;
CREATE TRIGGER chats_fts_update AFTER UPDATE OF full_name ON chats WHEN old.full_name IS NOT new.full_name BEGIN
    DELETE FROM chats_fts WHERE rowid = old.id;
    INSERT INTO chats_fts (rowid, name) VALUES (new.id, new.full_name);
END;
