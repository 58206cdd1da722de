-- Up Migration

-- How long the phone waits for this user's keys once their PIN is verified (DESIGN §9): callers
-- who need longer get longer, without the prompt before sign-in hinting that an ID exists.
ALTER TABLE users ADD COLUMN response_wait integer NOT NULL DEFAULT 5 CHECK (response_wait BETWEEN 3 AND 30);

-- Lock users after this many days without a successful sign-in; 0 = never (Cisco's "User
-- Inactivity Timeout").
ALTER TABLE auth_rules ADD COLUMN inactive_days integer NOT NULL DEFAULT 0 CHECK (inactive_days BETWEEN 0 AND 3650);

-- The last successful sign-in, by phone or on /me.
ALTER TABLE pin_credentials ADD COLUMN last_signin_at timestamptz;
-- Where the inactivity clock starts for a user who has not signed in since: the latest of the
-- user's creation, a PIN set or reset, and an unlock. Last activity is the later of the two.
ALTER TABLE pin_credentials ADD COLUMN activity_since timestamptz NOT NULL DEFAULT now();
-- When an inactivity lock first refused a sign-in (audited once, as pin.locked_inactive);
-- cleared when the clock restarts.
ALTER TABLE pin_credentials ADD COLUMN inactive_locked_at timestamptz;

-- Existing users: the clock starts at their PIN's last change, and their last sign-in is the
-- audit log's.
UPDATE pin_credentials SET activity_since = changed_at;
UPDATE pin_credentials c SET last_signin_at = s.at
  FROM (SELECT user_id, max(at) AS at FROM audit_events
         WHERE event IN ('signin.succeeded', 'web.signin_succeeded') AND user_id IS NOT NULL
         GROUP BY user_id) s
 WHERE s.user_id = c.user_id;

-- Down Migration
ALTER TABLE pin_credentials DROP COLUMN inactive_locked_at;
ALTER TABLE pin_credentials DROP COLUMN activity_since;
ALTER TABLE pin_credentials DROP COLUMN last_signin_at;
ALTER TABLE auth_rules DROP COLUMN inactive_days;
ALTER TABLE users DROP COLUMN response_wait;
