-- Issue 10: failed sign-ins, counted in the database per key (a hash of
-- the client's address, or of the address and the email typed), so that
-- limits hold across restarts and every key is counted however many there
-- are. The table is bounded: old rows are pruned and, past a row count,
-- the oldest evicted by id.
CREATE TABLE sign_in_failures (
    id  INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
