-- Up Migration

-- A phone turn's effects are keyed by a fingerprint of the request itself (an HMAC of the sealed
-- state it answers and the keys pressed), not by (CallSid, turn): two branches of one sealed state,
-- or a new call reusing a CallSid, share a CallSid and turn but are different requests.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_call_turn_key;
ALTER TABLE audit_events ADD COLUMN request_key bytea CHECK (octet_length(request_key) = 32);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_request_key UNIQUE (request_key, event);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_request_call CHECK (request_key IS NULL OR call_sid IS NOT NULL);

-- When an administrator's password was last set: web sessions signed in before it are over.
ALTER TABLE admins ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();

-- Down Migration
ALTER TABLE admins DROP COLUMN password_changed_at;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_request_call;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_request_key;
ALTER TABLE audit_events DROP COLUMN request_key;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_call_turn_key UNIQUE (call_sid, call_turn, event);
