-- Up Migration

-- A million users (issue 21): the locked report's count and first page read small indexes, not
-- a table page for each locked user (src/db/reports.ts).

-- The users locked under any rule (by an administrator or the directory): counted from this
-- index alone, and its first page found by walking the users in extension order (below).
CREATE INDEX pin_credentials_locked_certain_idx ON pin_credentials (user_id) WHERE locked_by_admin OR deactivated_at IS NOT NULL;
-- Intruder lockouts, which need their rule to decide: few at any time.
CREATE INDEX pin_credentials_intruder_idx ON pin_credentials (user_id) WHERE locked_at IS NOT NULL;
-- Both replaced by the two above.
DROP INDEX pin_credentials_locked_idx;
DROP INDEX pin_credentials_deactivated_idx;

-- A report's page walks the users in extension order and keeps its members: with the id in the
-- extension's unique index, that walk reads the index alone. Same name, so errors still name it.
ALTER TABLE users DROP CONSTRAINT users_extension_key, ADD CONSTRAINT users_extension_key UNIQUE (extension) INCLUDE (id);

-- Down Migration

ALTER TABLE users DROP CONSTRAINT users_extension_key, ADD CONSTRAINT users_extension_key UNIQUE (extension);
CREATE INDEX pin_credentials_deactivated_idx ON pin_credentials (user_id) WHERE deactivated_at IS NOT NULL;
CREATE INDEX pin_credentials_locked_idx ON pin_credentials (user_id) WHERE locked_by_admin OR locked_at IS NOT NULL;
DROP INDEX pin_credentials_intruder_idx;
DROP INDEX pin_credentials_locked_certain_idx;
