-- whatsmeow keeps the linked devices' sessions in its own whatsmeow_*
-- tables of this schema (Store.SessionDB). Its upgrade asks
-- information_schema whether its version table exists without naming a
-- schema, so a whatsmeow_version in another schema of the database
-- (another chathook, a bridge) would make it read one that is not on the
-- search path, and fail. Created here, in chathook's schema, the answer
-- is this table. The columns are whatsmeow's own.
CREATE TABLE IF NOT EXISTS whatsmeow_version (version INTEGER, compat INTEGER);
