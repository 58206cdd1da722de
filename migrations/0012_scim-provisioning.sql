-- Up Migration

-- Provisioning with SCIM 2.0 (DESIGN §11).

-- "Deactivated by the directory": a state of its own beside the locks, set by SCIM's
-- `active: false` and cleared only by `active: true` or a system administrator. An unlock leaves it.
ALTER TABLE pin_credentials ADD COLUMN deactivated_at timestamptz;

-- The PIN is one no one was told (a bulk import's or SCIM's new user, DESIGN §9): cleared by any
-- new PIN hash, so SCIM knows whom a first e-mail or phone should send a reset to.
ALTER TABLE pin_credentials ADD COLUMN untold boolean NOT NULL DEFAULT false;

-- The identity provider's own id for the user, kept as sent (RFC 7643 §3.1 externalId).
ALTER TABLE users ADD COLUMN scim_external_id text CHECK (char_length(scim_external_id) <= 255);

ALTER TABLE audit_events DROP CONSTRAINT audit_events_channel_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_channel_check
  CHECK (channel IN ('phone', 'web', 'admin', 'api', 'cli', 'scim', 'system'));

-- Down Migration
ALTER TABLE audit_events DROP CONSTRAINT audit_events_channel_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_channel_check
  CHECK (channel IN ('phone', 'web', 'admin', 'api', 'cli', 'system'));
ALTER TABLE users DROP COLUMN scim_external_id;
ALTER TABLE pin_credentials DROP COLUMN untold;
ALTER TABLE pin_credentials DROP COLUMN deactivated_at;
