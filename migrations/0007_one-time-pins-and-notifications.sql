-- Up Migration

-- A user's e-mail address (DESIGN §8): for notifications and a reset PIN; optional, not unique
-- (a shared mailbox may serve several users).
ALTER TABLE users ADD COLUMN email text
  CHECK (length(email) <= 254 AND email ~ '^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$');

-- How long a PIN nobody chose (a reset, or one generated for a new user) works: 0 = no limit.
ALTER TABLE auth_rules ADD COLUMN temp_pin_hours integer NOT NULL DEFAULT 72 CHECK (temp_pin_hours BETWEEN 0 AND 8760);

-- Set while the PIN is one nobody chose: its lifetime counts from here, under the user's rule at
-- check time. Cleared when the user (or an administrator, typing one) chooses a PIN.
ALTER TABLE pin_credentials ADD COLUMN temporary_since timestamptz;
-- When the user was last told of an intruder lockout: at most one such message an hour.
ALTER TABLE pin_credentials ADD COLUMN lockout_notice_at timestamptz;

-- Notifications that could not be delivered after every retry, for the administrators' page.
-- Never the message itself: a reset's message carries a PIN.
CREATE TABLE notification_failures (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
  extension   text,
  kind        text NOT NULL,
  channel     text NOT NULL CHECK (channel IN ('sms', 'email')),
  recipient   text NOT NULL,
  attempts    integer NOT NULL,
  error       text NOT NULL
);
CREATE INDEX notification_failures_at_idx ON notification_failures (at DESC);

-- Down Migration
DROP TABLE notification_failures;
ALTER TABLE pin_credentials DROP COLUMN lockout_notice_at;
ALTER TABLE pin_credentials DROP COLUMN temporary_since;
ALTER TABLE auth_rules DROP COLUMN temp_pin_hours;
ALTER TABLE users DROP COLUMN email;
