-- Up Migration

-- The version of a user's PIN credential (DESIGN §3 "A sign-in is bound to the credential it
-- proved"). It moves with every new PIN hash (a change, a reset) and every change of "must
-- change"; a re-hash of the same PIN leaves it. A call's sealed state carries the version its
-- sign-in proved, and every turn that reaches the database compares it under the row lock.
ALTER TABLE pin_credentials ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);

-- The credential version a phone request's recorded outcome stands for, after the request's own
-- effects (with user_id): a Twilio retry is answered from the record only while both are current.
ALTER TABLE audit_events ADD COLUMN credential_version integer;

-- Down Migration
ALTER TABLE audit_events DROP COLUMN credential_version;
ALTER TABLE pin_credentials DROP COLUMN version;
