-- Up Migration

-- A million users (issue 21), continued.

-- The admin Users search and the API's ?q= match what begins with the text (searchAccounts in
-- src/db/users.ts): the extension (0013's index), the last name, or the whole name "first last",
-- without regard to case. text_pattern_ops lets LIKE 'abc%' read a range of these, whatever the
-- database's collation; no extension is needed (the service role owns every object, DESIGN §10).
CREATE INDEX users_last_name_prefix_idx ON users (lower(last_name) text_pattern_ops);
CREATE INDEX users_full_name_prefix_idx ON users (lower(first_name || ' ' || last_name) text_pattern_ops);

-- The reports' counts (src/db/reports.ts) read the users every rule agrees on from an index alone.
-- The expiring report's flags:
CREATE INDEX pin_credentials_expiring_idx ON pin_credentials (changed_at)
  WHERE NOT does_not_expire AND NOT must_change AND NOT enrollment_pending;
-- The locked report's deactivated users:
CREATE INDEX pin_credentials_deactivated_idx ON pin_credentials (user_id) WHERE deactivated_at IS NOT NULL;
-- The last activity, with its columns, so that counting the inactive needs no table read.
DROP INDEX pin_credentials_activity_idx;
CREATE INDEX pin_credentials_activity_idx ON pin_credentials ((GREATEST(last_signin_at, activity_since)))
  INCLUDE (last_signin_at, activity_since);

-- Down Migration

DROP INDEX pin_credentials_activity_idx;
CREATE INDEX pin_credentials_activity_idx ON pin_credentials ((GREATEST(last_signin_at, activity_since)));
DROP INDEX pin_credentials_deactivated_idx;
DROP INDEX pin_credentials_expiring_idx;
DROP INDEX users_full_name_prefix_idx;
DROP INDEX users_last_name_prefix_idx;
