-- Up Migration

-- A million users (issue 21): the admin Users search and the reports read an index, not the table.

-- Search by extension prefix (LIKE '12%'): the unique index's collation cannot serve a prefix.
CREATE INDEX users_extension_prefix_idx ON users (extension text_pattern_ops);

-- Search by name anywhere in it (ILIKE '%ann%') has no index here: a trigram index needs the
-- pg_trgm extension, whose objects the bootstrap superuser would own, and the embedded database's
-- service role owns every object (DESIGN §10). The search reads the whole name once per user.

-- The reports' candidate sets (src/db/reports.ts): partial where few users are in them, and the
-- times their conditions compare.
CREATE INDEX pin_credentials_enrollment_pending_idx ON pin_credentials (user_id) WHERE enrollment_pending;
CREATE INDEX pin_credentials_locked_idx ON pin_credentials (user_id) WHERE locked_by_admin OR locked_at IS NOT NULL;
CREATE INDEX pin_credentials_changed_at_idx ON pin_credentials (changed_at)
  WHERE NOT does_not_expire AND NOT must_change AND temporary_since IS NULL;
CREATE INDEX pin_credentials_activity_idx ON pin_credentials ((GREATEST(last_signin_at, activity_since)));

-- Down Migration

DROP INDEX pin_credentials_activity_idx;
DROP INDEX pin_credentials_changed_at_idx;
DROP INDEX pin_credentials_locked_idx;
DROP INDEX pin_credentials_enrollment_pending_idx;
DROP INDEX users_extension_prefix_idx;
