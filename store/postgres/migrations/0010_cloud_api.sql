-- Issue 12: the schema of store/sqlite/migrations/0008_cloud_api.sql in
-- PostgreSQL types.
ALTER TABLE accounts ADD COLUMN phone_number_id text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN verify_token text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN app_secret text NOT NULL DEFAULT '';

CREATE UNIQUE INDEX accounts_cloud_api_number ON accounts (workspace_id, phone_number_id)
    WHERE kind = 'cloud_api' AND state <> 'disconnected';
