-- Issue 10: log downloads read in pages, keyed on (at, id), so that a
-- client that stops reading holds no connection. The index ends in id, so
-- a page is a seek and limit rows in order, however many rows share an
-- at. (SQLite needs no such index: its attempts_log ends in the rowid.)
CREATE INDEX attempts_keyset ON attempts (workspace_id, at, id);
DROP INDEX attempts_log;
