-- Up Migration

-- Web sessions of the admin and self-service pages (connect-pg-simple's layout). Created here,
-- not by the store at run time, so the app never needs DDL rights.
CREATE TABLE web_sessions (
  sid     varchar NOT NULL PRIMARY KEY,
  sess    json NOT NULL,
  expire  timestamptz NOT NULL
);
CREATE INDEX web_sessions_expire_idx ON web_sessions (expire);

-- REST API bearer tokens. Only the SHA-256 of a token is kept: the token itself is shown once.
CREATE TABLE api_tokens (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$'),
  token_sha256  bytea NOT NULL CHECK (octet_length(token_sha256) = 32),
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  CONSTRAINT api_tokens_sha256_key UNIQUE (token_sha256)
);
-- A name identifies a live token in the audit trail ("api:<name>"); a revoked one frees its name.
CREATE UNIQUE INDEX api_tokens_active_name_key ON api_tokens (name) WHERE revoked_at IS NULL;

-- "User Must Change at Next Sign-In" for the web password (Change Password > Web Application).
ALTER TABLE web_passwords ADD COLUMN must_change boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE web_passwords DROP COLUMN must_change;
DROP TABLE api_tokens;
DROP TABLE web_sessions;
