-- Issue 12: WhatsApp Business Platform (Cloud API) numbers. A number is
-- named in Meta's payloads by its phone_number_id; Meta's verification
-- handshake sends verify_token; app_secret keys the HMAC of every POST
-- (write-only: never shown, wiped when the number is removed).
ALTER TABLE accounts ADD COLUMN phone_number_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN verify_token TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN app_secret TEXT NOT NULL DEFAULT '';

-- One live registration of a phone number id per workspace: a payload
-- names exactly one account. A removed number may be registered again.
CREATE UNIQUE INDEX accounts_cloud_api_number ON accounts (workspace_id, phone_number_id)
    WHERE kind = 'cloud_api' AND state <> 'disconnected';
